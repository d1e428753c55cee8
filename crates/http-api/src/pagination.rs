//! The one pagination code path of the API: every paginated list reads `?page=` and
//! `?per_page=` through [`PageQuery`] and answers with the [`Paginated`] envelope of the
//! packages seed:
//!
//! ```json
//! {"data": [...],
//!  "links": {"first": URL, "last": URL, "prev": URL|null, "next": URL|null},
//!  "meta": {"current_page": 1, "from": 1|null, "last_page": 1, "path": URL,
//!           "per_page": 15, "to": 15|null, "total": 20}}
//! ```
//!
//! A handler does three things:
//!
//! ```text
//! pub async fn list_things(state: web::Data<ApiState>, Authenticated(caller): Authenticated,
//!                          query: PageQuery) -> Result<HttpResponse, ApiError> {
//!     let pages = query.validate()?;                        // 400 naming page/per_page
//!     let page = state.things.page(caller, pages.request()).await?; // tariff_domain::Page<Thing>
//!     Ok(HttpResponse::Ok().json(pages.envelope(page, ThingJson::from)))
//! }
//! ```
//!
//! and its repository counts and pages in the database with the domain's
//! [`PageRequest`] (`offset()`, `limit()`), returning a [`Page`] `{items, total}`.
//!
//! Extraction itself never fails: validation waits for [`PageQuery::validate`] so that
//! the auth extractors answer first (401/403 before 400, whatever order actix resolves
//! extractors in).
//!
//! Rules: `page` is 1..=2147483647 (default 1), `per_page` 1..=100 (default 15); empty,
//! non-numeric, zero, negative or out-of-range values and repeated parameters are 400
//! `validation_failed` with `field`. Links are absolute: the configured public base URL
//! (`server.public_url`) + the request path + `?page=N`, plus `per_page=N` when it is not
//! the default, plus any other query parameters (filters) unchanged. `meta.path` is the
//! base URL + path without a query. `from`/`to` are null on an empty page; `last_page` is
//! at least 1; `prev` is null on page 1 and `next` null from the last page on (as Laravel's
//! paginator, which the seed comes from, does: a page past the last still has `prev`).

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::Serialize;
use tariff_domain::shared::DEFAULT_PER_PAGE;
use tariff_domain::{Page, PageRequest, PageRequestError};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::state::ApiState;

/// `?page=` and `?per_page=` of a paginated list, as the client sent them. Also keeps
/// what links need: the public base URL, the request path and the other parameters.
#[derive(Debug)]
pub struct PageQuery {
    parsed: Result<PageRequest, ApiError>,
    base: Arc<str>,
    path: String,
    /// The other query parameters, still percent-encoded, in the client's order.
    carried: Vec<String>,
}

/// The query parameters, for the OpenAPI document: `params(PageParams)`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only; PageQuery reads the raw query string
pub struct PageParams {
    /// 1-based page number (default 1). A page past the last answers an empty `data`.
    #[param(minimum = 1, maximum = 2147483647, default = 1)]
    page: Option<u32>,
    /// Items per page, 1 to 100 (default 15).
    #[param(minimum = 1, maximum = 100, default = 15)]
    per_page: Option<u32>,
}

impl PageQuery {
    /// Reads the query string of `req`; links will start with `base` (no trailing slash).
    pub fn from_parts(base: &str, req: &HttpRequest) -> PageQuery {
        let (parsed, carried) = parse_query(req.query_string());
        PageQuery {
            parsed,
            base: Arc::from(base.trim_end_matches('/')),
            path: req.path().to_owned(),
            carried,
        }
    }

    /// The validated page request, or a 400 naming `page` or `per_page`.
    pub fn validate(self) -> Result<Pagination, ApiError> {
        Ok(Pagination {
            request: self.parsed?,
            base: self.base,
            path: self.path,
            carried: self.carried,
        })
    }
}

impl FromRequest for PageQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let base = req
            .app_data::<web::Data<ApiState>>()
            .map(|state| state.public_url.clone())
            .unwrap_or_else(|| Arc::from(""));
        ready(Ok(PageQuery::from_parts(&base, req)))
    }
}

/// Splits the raw query: `page` and `per_page` parsed, every other parameter kept as sent.
fn parse_query(query: &str) -> (Result<PageRequest, ApiError>, Vec<String>) {
    let mut page: Option<String> = None;
    let mut per_page: Option<String> = None;
    let mut carried = Vec::new();
    let mut error: Option<ApiError> = None;
    for segment in query.split('&').filter(|s| !s.is_empty()) {
        let (key, value) = decode_pair(segment);
        let slot = match key.as_str() {
            "page" => &mut page,
            "per_page" => &mut per_page,
            _ => {
                carried.push(segment.to_owned());
                continue;
            }
        };
        if slot.replace(value).is_some() && error.is_none() {
            let field = if key == "page" { "page" } else { "per_page" };
            error = Some(ApiError::validation(
                field,
                format!("{field} must be given at most once."),
            ));
        }
    }
    let parsed = match error {
        Some(err) => Err(err),
        None => page_request(page.as_deref(), per_page.as_deref()),
    };
    (parsed, carried)
}

fn decode_pair(segment: &str) -> (String, String) {
    web::Query::<Vec<(String, String)>>::from_query(segment)
        .ok()
        .and_then(|q| q.into_inner().into_iter().next())
        .unwrap_or_else(|| (segment.to_owned(), String::new()))
}

/// Whole decimal numbers only: no sign, no fraction, no blanks.
fn whole_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Too many digits for u64 is out of range too; u64::MAX fails the range check.
    Some(text.parse().unwrap_or(u64::MAX))
}

fn page_request(page: Option<&str>, per_page: Option<&str>) -> Result<PageRequest, ApiError> {
    let page = match page {
        None => 1,
        Some(text) => whole_number(text).ok_or(PageRequestError::Page)?,
    };
    let per_page = match per_page {
        None => u64::from(DEFAULT_PER_PAGE),
        Some(text) => whole_number(text).ok_or(PageRequestError::PerPage)?,
    };
    Ok(PageRequest::new(page, per_page)?)
}

/// A validated page request and what its links need; builds the envelope.
#[derive(Clone, Debug)]
pub struct Pagination {
    request: PageRequest,
    base: Arc<str>,
    path: String,
    carried: Vec<String>,
}

impl Pagination {
    /// The domain request to hand to a service or repository.
    pub fn request(&self) -> PageRequest {
        self.request
    }

    /// The `{data, links, meta}` envelope of `page`, converting each item with `to_json`.
    pub fn envelope<T, U>(&self, page: Page<T>, to_json: impl FnMut(T) -> U) -> Paginated<U> {
        let request = self.request;
        let current = u64::from(request.page());
        let last = request.last_page(page.total);
        let count = page.items.len() as u64;
        let (from, to) = if count == 0 {
            (None, None)
        } else {
            let from = request.offset() + 1;
            (Some(from), Some(from + count - 1))
        };
        Paginated {
            data: page.items.into_iter().map(to_json).collect(),
            links: PageLinks {
                first: self.url(1),
                last: self.url(last),
                prev: (current > 1).then(|| self.url(current - 1)),
                next: (current < last).then(|| self.url(current + 1)),
            },
            meta: PageMeta {
                current_page: current,
                from,
                last_page: last,
                path: format!("{}{}", self.base, self.path),
                per_page: u64::from(request.per_page()),
                to,
                total: page.total,
            },
        }
    }

    fn url(&self, page: u64) -> String {
        let mut url = format!("{}{}?page={page}", self.base, self.path);
        if self.request.per_page() != DEFAULT_PER_PAGE {
            url.push_str(&format!("&per_page={}", self.request.per_page()));
        }
        for param in &self.carried {
            url.push('&');
            url.push_str(param);
        }
        url
    }
}

/// The paginated list envelope (packages seed): a page of `data` with `links` and `meta`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub data: Vec<T>,
    pub links: PageLinks,
    pub meta: PageMeta,
}

/// Absolute URLs of the first, last, previous and next pages.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct PageLinks {
    #[schema(example = "https://panel.example.hosting.com/api/packages?page=1")]
    pub first: String,
    #[schema(example = "https://panel.example.hosting.com/api/packages?page=2")]
    pub last: String,
    /// Null on page 1.
    pub prev: Option<String>,
    /// Null on the last page and past it.
    pub next: Option<String>,
}

/// Where this page sits in the whole list.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct PageMeta {
    pub current_page: u64,
    /// 1-based position of the first item on this page; null when the page is empty.
    pub from: Option<u64>,
    /// At least 1.
    pub last_page: u64,
    /// The list's absolute URL without a query.
    #[schema(example = "https://panel.example.hosting.com/api/packages")]
    pub path: String,
    pub per_page: u64,
    /// 1-based position of the last item on this page; null when the page is empty.
    pub to: Option<u64>,
    /// Items in the whole list.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    const BASE: &str = "https://panel.example.hosting.com";

    fn query(uri: &str) -> PageQuery {
        PageQuery::from_parts(BASE, &TestRequest::get().uri(uri).to_http_request())
    }

    fn pages(uri: &str) -> Pagination {
        query(uri).validate().unwrap()
    }

    fn field_of(uri: &str) -> String {
        let err = query(uri).validate().unwrap_err();
        let response = actix_web::ResponseError::error_response(&err);
        assert_eq!(response.status(), 400, "{uri}");
        let body = actix_web::body::to_bytes(response.into_body());
        let bytes = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["error"], "validation_failed");
        json["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn defaults_and_explicit_values() {
        assert_eq!(
            pages("/api/packages").request(),
            PageRequest::new(1, 15).unwrap()
        );
        assert_eq!(
            pages("/api/packages?page=3&per_page=100").request(),
            PageRequest::new(3, 100).unwrap()
        );
        assert_eq!(
            pages("/api/packages?page=002").request(),
            PageRequest::new(2, 15).unwrap()
        );
        assert_eq!(
            pages("/api/packages?page=2147483647").request().page(),
            2_147_483_647
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        for bad in [
            "0",
            "-1",
            "abc",
            "",
            "1.5",
            "+2",
            "%201",
            "2147483648",
            "99999999999999999999999",
        ] {
            assert_eq!(field_of(&format!("/x?page={bad}")), "page", "page={bad}");
        }
        for bad in ["0", "-1", "101", "abc", "", "15.0"] {
            assert_eq!(
                field_of(&format!("/x?per_page={bad}")),
                "per_page",
                "per_page={bad}"
            );
        }
        assert_eq!(field_of("/x?page=1&page=2"), "page");
        assert_eq!(field_of("/x?per_page=5&per_page=5"), "per_page");
    }

    #[test]
    fn envelope_of_a_middle_page() {
        let p = pages("/api/packages?page=2&per_page=7");
        let envelope = p.envelope(Page::new((8..=14).collect::<Vec<u32>>(), 20), |n| n);
        assert_eq!(envelope.data.len(), 7);
        assert_eq!(
            envelope.links,
            PageLinks {
                first: format!("{BASE}/api/packages?page=1&per_page=7"),
                last: format!("{BASE}/api/packages?page=3&per_page=7"),
                prev: Some(format!("{BASE}/api/packages?page=1&per_page=7")),
                next: Some(format!("{BASE}/api/packages?page=3&per_page=7")),
            }
        );
        assert_eq!(
            envelope.meta,
            PageMeta {
                current_page: 2,
                from: Some(8),
                last_page: 3,
                path: format!("{BASE}/api/packages"),
                per_page: 7,
                to: Some(14),
                total: 20,
            }
        );
    }

    #[test]
    fn empty_and_past_the_end_pages() {
        let empty = pages("/api/packages").envelope(Page::<u8>::empty(), |n| n);
        assert_eq!((empty.meta.from, empty.meta.to), (None, None));
        assert_eq!((empty.meta.last_page, empty.meta.total), (1, 0));
        assert_eq!(empty.links.first, empty.links.last);
        assert_eq!((empty.links.prev, empty.links.next), (None, None));

        let past = pages("/api/packages?page=5").envelope(Page::<u8>::new(vec![], 20), |n| n);
        assert_eq!((past.meta.current_page, past.meta.last_page), (5, 2));
        assert_eq!((past.meta.from, past.meta.to), (None, None));
        assert_eq!(past.links.prev, Some(format!("{BASE}/api/packages?page=4")));
        assert_eq!(past.links.next, None);
    }

    #[test]
    fn other_parameters_are_carried_and_the_base_is_trimmed() {
        let p = PageQuery::from_parts(
            "https://billing.example.com/tariff/",
            &TestRequest::get()
                .uri("/api/admin/orders?status=active&per_page=15&q=a%20b&page=1")
                .to_http_request(),
        )
        .validate()
        .unwrap();
        let envelope = p.envelope(Page::new(vec![1], 1), |n: i32| n);
        assert_eq!(
            envelope.links.first,
            "https://billing.example.com/tariff/api/admin/orders?page=1&status=active&q=a%20b"
        );
        assert_eq!(
            envelope.meta.path,
            "https://billing.example.com/tariff/api/admin/orders"
        );
    }

    #[test]
    fn serialises_in_the_seed_shape() {
        let envelope = pages("/api/packages").envelope(Page::new(vec![1], 4), |n: i32| n);
        let text = serde_json::to_string(&envelope).unwrap();
        assert_eq!(
            text,
            format!(
                concat!(
                    r#"{{"data":[1],"links":{{"first":"{base}/api/packages?page=1","#,
                    r#""last":"{base}/api/packages?page=1","prev":null,"next":null}},"#,
                    r#""meta":{{"current_page":1,"from":1,"last_page":1,"#,
                    r#""path":"{base}/api/packages","per_page":15,"to":1,"total":4}}}}"#
                ),
                base = BASE
            )
        );
    }

    proptest! {
        #[test]
        fn meta_is_consistent(total in 0_u64..500, page in 1_u64..40, per_page in 1_u64..=100) {
            let request = PageRequest::new(page, per_page).unwrap();
            let all: Vec<u64> = (1..=total).collect();
            let p = pages(&format!("/l?page={page}&per_page={per_page}"));
            let e = p.envelope(Page::from_all(all, request), |n| n);
            let m = &e.meta;
            prop_assert_eq!(m.current_page, page);
            prop_assert_eq!(m.total, total);
            prop_assert!(m.last_page >= 1);
            prop_assert_eq!(m.from.is_none(), e.data.is_empty());
            prop_assert_eq!(m.to.is_none(), e.data.is_empty());
            if let (Some(from), Some(to)) = (m.from, m.to) {
                prop_assert_eq!(e.data.first().copied(), Some(from));
                prop_assert_eq!(e.data.last().copied(), Some(to));
                prop_assert_eq!(to - from + 1, e.data.len() as u64);
                prop_assert!(to <= total);
            }
            prop_assert_eq!(e.data.is_empty(), page > m.last_page || total == 0);
            prop_assert_eq!(e.links.prev.is_none(), page == 1);
            prop_assert_eq!(e.links.next.is_none(), page >= m.last_page);
            let last_link = format!("/l?page={}&per_page={per_page}", m.last_page);
            prop_assert!(e.links.last.ends_with(&last_link) || per_page == 15);
        }
    }
}
