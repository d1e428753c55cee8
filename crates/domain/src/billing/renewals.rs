//! Coupons on renewals: a repeating coupon discounts `durationInCycles` periods in all
//! (the order that redeemed it included), a forever coupon every renewal. The
//! redemption was counted when the first order was placed, so a renewal counts nothing
//! again, and a coupon deactivated or expired since keeps discounting the periods it
//! was redeemed for (as a subscription's discount does).

use std::sync::Arc;

use async_trait::async_trait;

use super::coupon::CouponCode;
use super::ports::CouponRepository;
use crate::catalogue::plan::Plan;
use crate::orders::{Order, OrderCoupon, OrderItem, RenewalDiscounts};
use crate::{Money, RepoError};

/// [`RenewalDiscounts`] from the coupon catalogue.
#[derive(Clone)]
pub struct CouponRenewals {
    coupons: Arc<dyn CouponRepository>,
}

impl CouponRenewals {
    pub fn new(coupons: Arc<dyn CouponRepository>) -> CouponRenewals {
        CouponRenewals { coupons }
    }
}

#[async_trait]
impl RenewalDiscounts for CouponRenewals {
    async fn renewal_discount(
        &self,
        previous: &Order,
        plan: &Plan,
        price: Money,
    ) -> Result<Option<(OrderItem, OrderCoupon)>, RepoError> {
        let Some(carried) = &previous.billing().coupon else {
            return Ok(None);
        };
        let period = carried.period.saturating_add(1);
        let Ok(code) = CouponCode::parse(&carried.code) else {
            return Ok(None);
        };
        let coupon = match self.coupons.get(code.clone()).await {
            Ok(coupon) => coupon,
            Err(RepoError::NotFound) => return Ok(None),
            Err(other) => return Err(other),
        };
        let spec = coupon.spec();
        if !spec.duration().applies_to_period(period) {
            return Ok(None);
        }
        // A change to a plan the coupon is not for ends the discount.
        if !spec.plan_ids().is_empty() && !spec.plan_ids().contains(&plan.id()) {
            return Ok(None);
        }
        let Ok(discount) = spec.discount().discount_on(price) else {
            // An amount in another currency than the renewal's.
            return Ok(None);
        };
        let negative = Money::zero(price.currency())
            .checked_sub(discount)
            .map_err(|e| RepoError::internal(e.to_string()))?;
        let line = OrderItem::new(format!("Coupon {code}"), 1, negative)
            .map_err(|e| RepoError::internal(e.to_string()))?;
        Ok(Some((
            line,
            OrderCoupon {
                code: code.to_string(),
                period,
            },
        )))
    }
}
