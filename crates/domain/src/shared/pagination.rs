//! Pagination shared by every paginated list: what a caller asks for ([`PageRequest`])
//! and what a repository or service answers ([`Page`]).
//!
//! Repositories take a `PageRequest`, count the matching rows, and load at most
//! [`PageRequest::limit`] rows from [`PageRequest::offset`] in a stable order; services
//! pass the resulting `Page` through (mapping items with [`Page::map`] if they must).
//! The HTTP layer turns a `Page` into the `{data, links, meta}` envelope.

/// Page size when the caller names none.
pub const DEFAULT_PER_PAGE: u32 = 15;
/// The largest page size a caller may ask for.
pub const MAX_PER_PAGE: u32 = 100;
/// The largest page number accepted (`i32::MAX`): far beyond any real list, small
/// enough that every offset fits a database integer and every JSON client reads it.
pub const MAX_PAGE: u32 = 2_147_483_647;

/// The page number or size is out of range. `field` is the query parameter's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageRequestError {
    /// Page must be a whole number from 1 to.
    #[error("page must be a whole number from 1 to {MAX_PAGE}")]
    Page,
    /// Per_page must be a whole number from 1 to.
    #[error("per_page must be a whole number from 1 to {MAX_PER_PAGE}")]
    PerPage,
}

impl PageRequestError {
    /// The query parameter at fault: `page` or `per_page`.
    pub fn field(self) -> &'static str {
        match self {
            PageRequestError::Page => "page",
            PageRequestError::PerPage => "per_page",
        }
    }
}

/// One page of a list: 1-based `page` of `per_page` items. Always valid once built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

impl Default for PageRequest {
    /// The first page at the default size.
    fn default() -> Self {
        PageRequest {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl PageRequest {
    /// Checks `page` in `1..=MAX_PAGE` and `per_page` in `1..=MAX_PER_PAGE`. Takes
    /// wide integers so that callers can pass parsed input without pre-checking it.
    pub fn new(page: u64, per_page: u64) -> Result<PageRequest, PageRequestError> {
        let page = u32::try_from(page)
            .ok()
            .filter(|p| (1..=MAX_PAGE).contains(p))
            .ok_or(PageRequestError::Page)?;
        let per_page = u32::try_from(per_page)
            .ok()
            .filter(|p| (1..=MAX_PER_PAGE).contains(p))
            .ok_or(PageRequestError::PerPage)?;
        Ok(PageRequest { page, per_page })
    }

    /// The 1-based page number.
    pub fn page(self) -> u32 {
        self.page
    }

    /// Per page.
    pub fn per_page(self) -> u32 {
        self.per_page
    }

    /// How many items come before this page (`(page - 1) * per_page`).
    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }

    /// The most items this page holds (`per_page`).
    pub fn limit(self) -> u64 {
        u64::from(self.per_page)
    }

    /// The number of the last page for `total` items; 1 for an empty list, so that
    /// "page 1 of 1" is always a valid answer.
    pub fn last_page(self, total: u64) -> u64 {
        total.div_ceil(u64::from(self.per_page)).max(1)
    }
}

/// A page of results and the true total of the whole list (not of this page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// Items.
    pub items: Vec<T>,
    /// Total.
    pub total: u64,
}

impl<T> Page<T> {
    /// Creates it from its parts.
    pub fn new(items: Vec<T>, total: u64) -> Page<T> {
        Page { items, total }
    }

    /// An empty page of an empty list.
    pub fn empty() -> Page<T> {
        Page {
            items: Vec::new(),
            total: 0,
        }
    }

    /// The same page with every item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
        }
    }

    /// Cuts one page out of a whole list that is already in memory and in order.
    /// For small lists only: a repository should count and page in the database.
    pub fn from_all(all: Vec<T>, request: PageRequest) -> Page<T> {
        let total = all.len() as u64;
        let skip = usize::try_from(request.offset()).unwrap_or(usize::MAX);
        let take = usize::try_from(request.limit()).unwrap_or(usize::MAX);
        Page {
            items: all.into_iter().skip(skip).take(take).collect(),
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds_are_checked() {
        assert_eq!(PageRequest::new(0, 15), Err(PageRequestError::Page));
        assert_eq!(
            PageRequest::new(u64::from(MAX_PAGE) + 1, 15),
            Err(PageRequestError::Page)
        );
        assert_eq!(PageRequest::new(1, 0), Err(PageRequestError::PerPage));
        assert_eq!(PageRequest::new(1, 101), Err(PageRequestError::PerPage));
        assert!(PageRequest::new(1, 100).is_ok());
        assert!(PageRequest::new(u64::from(MAX_PAGE), 100).is_ok());
        assert_eq!(PageRequestError::Page.field(), "page");
        assert_eq!(PageRequestError::PerPage.field(), "per_page");
        assert_eq!(PageRequest::default(), PageRequest::new(1, 15).unwrap());
    }

    #[test]
    fn offsets_and_last_pages() {
        let second = PageRequest::new(2, 15).unwrap();
        assert_eq!((second.offset(), second.limit()), (15, 15));
        assert_eq!(second.last_page(0), 1);
        assert_eq!(second.last_page(15), 1);
        assert_eq!(second.last_page(16), 2);
        assert_eq!(second.last_page(20), 2);
        let furthest = PageRequest::new(u64::from(MAX_PAGE), 100).unwrap();
        assert!(i64::try_from(furthest.offset()).is_ok());
    }

    #[test]
    fn in_memory_pages() {
        let all: Vec<u32> = (1..=20).collect();
        let page = Page::from_all(all.clone(), PageRequest::new(2, 15).unwrap());
        assert_eq!(page.items, vec![16, 17, 18, 19, 20]);
        assert_eq!(page.total, 20);
        let past = Page::from_all(all, PageRequest::new(3, 15).unwrap());
        assert!(past.items.is_empty());
        assert_eq!(past.total, 20);
        assert_eq!(Page::<u8>::empty().map(u32::from), Page::new(vec![], 0));
    }

    proptest! {
        /// Walking pages 1..=last_page returns every item once, in order; the page
        /// after the last is empty; last_page is the smallest count that covers all.
        #[test]
        fn pages_partition_the_list(total in 0_usize..400, per_page in 1_u64..=100) {
            let all: Vec<usize> = (0..total).collect();
            let first = PageRequest::new(1, per_page).unwrap();
            let last = first.last_page(total as u64);
            prop_assert!(last >= 1);
            prop_assert!(last * per_page >= total as u64);
            prop_assert!(total == 0 || (last - 1) * per_page < total as u64);
            let mut seen = Vec::new();
            for n in 1..=last {
                let request = PageRequest::new(n, per_page).unwrap();
                let page = Page::from_all(all.clone(), request);
                prop_assert_eq!(page.total, total as u64);
                prop_assert!(page.items.len() as u64 <= request.limit());
                prop_assert!(n == last || page.items.len() as u64 == per_page);
                seen.extend(page.items);
            }
            prop_assert_eq!(seen, all.clone());
            let after = Page::from_all(all, PageRequest::new(last + 1, per_page).unwrap());
            prop_assert!(after.items.is_empty());
        }

        #[test]
        fn any_valid_request_has_an_offset_that_fits_sql(page in 1_u64..=u64::from(MAX_PAGE), per_page in 1_u64..=100) {
            let request = PageRequest::new(page, per_page).unwrap();
            prop_assert_eq!(request.offset(), (page - 1) * per_page);
            prop_assert!(i64::try_from(request.offset() + request.limit()).is_ok());
        }
    }
}
