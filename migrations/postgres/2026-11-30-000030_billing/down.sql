DROP TABLE credit_entries;
DROP TABLE coupon_redemptions;
DROP TABLE coupons;
