// Diesel table definitions. Kept in step with migrations/{sqlite,postgres}; the
// `schema_matches_migrations` test fails when a column here is missing in the database.

diesel::table! {
    plans (id) {
        id -> BigInt,
        name -> Text,
        plan_type -> Text,
        description -> Nullable<Text>,
        currency -> Text,
        price_monthly_minor -> BigInt,
        price_hourly_minor -> BigInt,
        price_yearly_minor -> BigInt,
        memory -> BigInt,
        disk -> BigInt,
        cpu -> BigInt,
        servers -> BigInt,
        sites -> BigInt,
        databases -> BigInt,
        backups -> BigInt,
        port_count -> BigInt,
        tunnel_port_count -> BigInt,
        email_daily_limit -> BigInt,
        email_queue_limit -> BigInt,
        server_create -> Bool,
        server_update -> Bool,
        server_delete -> Bool,
        site_create -> Bool,
        site_update -> Bool,
        site_delete -> Bool,
        features -> Text,
        hidden -> Bool,
        is_default -> Bool,
        stripe_plan_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    change_shards (shard) {
        shard -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Nullable<Text>,
        company -> Nullable<Text>,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        city -> Nullable<Text>,
        postcode -> Nullable<Text>,
        country -> Nullable<Text>,
        tax_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organisations (id) {
        id -> BigInt,
        name -> Text,
        company -> Nullable<Text>,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        city -> Nullable<Text>,
        postcode -> Nullable<Text>,
        country -> Nullable<Text>,
        tax_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    org_members (org_id, user_id) {
        org_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        account_kind -> Text,
        account_id -> BigInt,
        user_id -> Nullable<BigInt>,
        org_id -> Nullable<BigInt>,
        plan_id -> BigInt,
        status -> Text,
        currency -> Text,
        subtotal_minor -> BigInt,
        tax_rate_bp -> Integer,
        tax_minor -> BigInt,
        total_minor -> BigInt,
        description -> Text,
        notes -> Nullable<Text>,
        payment_reference -> Nullable<Text>,
        renewal_of -> Nullable<BigInt>,
        created_at -> Timestamp,
        activated_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        invoice_year -> Nullable<Integer>,
        invoice_seq -> Nullable<BigInt>,
        invoice_number -> Nullable<Text>,
        invoice_snapshot -> Nullable<Text>,
        cycle -> Text,
        credit_applied_minor -> BigInt,
        period_value_minor -> Nullable<BigInt>,
        coupon_code -> Nullable<Text>,
        coupon_period -> Nullable<Integer>,
        scheduled_plan_id -> Nullable<BigInt>,
        scheduled_cycle -> Nullable<Text>,
        scheduled_at -> Nullable<Timestamp>,
        paid_at -> Nullable<Timestamp>,
        customer_note -> Nullable<Text>,
        past_due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    order_items (order_id, position) {
        order_id -> BigInt,
        position -> Integer,
        description -> Text,
        quantity -> Integer,
        unit_price_minor -> BigInt,
        amount_minor -> BigInt,
    }
}

diesel::table! {
    invoice_counters (year) {
        year -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    usage_counters (account_kind, account_id, resource) {
        account_kind -> Text,
        account_id -> BigInt,
        resource -> Text,
        used -> BigInt,
        period_day -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    limit_overrides (account_kind, account_id, resource) {
        account_kind -> Text,
        account_id -> BigInt,
        resource -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (account_kind, account_id, idempotency_key) {
        account_kind -> Text,
        account_id -> BigInt,
        idempotency_key -> Text,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_user_id -> Nullable<BigInt>,
        action -> Text,
        target_kind -> Text,
        target_id -> Nullable<BigInt>,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        url -> Text,
        events -> Text,
        description -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_signs_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        stream -> Text,
        sequence -> BigInt,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_sequences (stream) {
        stream -> Text,
        last_value -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        event_row_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        series_attempt -> Integer,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        lease_holder -> Nullable<Text>,
        lease_token -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    coupons (id) {
        id -> BigInt,
        code -> Text,
        percent_off_bp -> Nullable<Integer>,
        amount_off_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        duration -> Text,
        duration_in_cycles -> Nullable<Integer>,
        max_redemptions -> Nullable<Integer>,
        once_per_account -> Bool,
        valid_from -> Nullable<Timestamp>,
        valid_until -> Nullable<Timestamp>,
        plan_ids -> Text,
        active -> Bool,
        times_redeemed -> Integer,
        created_at -> Timestamp,
        deactivated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    coupon_redemptions (id) {
        id -> BigInt,
        coupon_id -> BigInt,
        account_kind -> Text,
        account_id -> BigInt,
        order_id -> Nullable<BigInt>,
        discount_minor -> BigInt,
        currency -> Text,
        once_slot -> Nullable<Integer>,
        redeemed_at -> Timestamp,
        released_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    credit_entries (id) {
        id -> BigInt,
        account_kind -> Text,
        account_id -> BigInt,
        currency -> Text,
        amount_minor -> BigInt,
        balance_after_minor -> BigInt,
        reason_kind -> Text,
        reason_text -> Text,
        order_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_sealing_key (id) {
        id -> BigInt,
        key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    payments (id) {
        id -> BigInt,
        order_id -> BigInt,
        provider -> Text,
        reference -> Nullable<Text>,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        gateway_event_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    gateway_events (id) {
        id -> BigInt,
        provider -> Text,
        event_id -> Text,
        event_type -> Text,
        outcome -> Text,
        order_id -> Nullable<BigInt>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    checkout_sessions (id) {
        id -> BigInt,
        order_id -> BigInt,
        provider -> Text,
        attempt -> Integer,
        session_id -> Text,
        url -> Text,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    gateway_customers (account_kind, account_id, provider) {
        account_kind -> Text,
        account_id -> BigInt,
        provider -> Text,
        customer_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    renewal_charges (order_id, attempt) {
        order_id -> BigInt,
        attempt -> Integer,
        claimed_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        reference -> Nullable<Text>,
    }
}

diesel::joinable!(coupon_redemptions -> coupons (coupon_id));
diesel::joinable!(org_members -> organisations (org_id));
diesel::joinable!(org_members -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(orders -> plans (plan_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(checkout_sessions -> orders (order_id));
diesel::joinable!(renewal_charges -> orders (order_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_row_id));

diesel::allow_tables_to_appear_in_same_query!(
    plans,
    settings,
    counters,
    change_shards,
    users,
    organisations,
    org_members,
    sessions,
    api_tokens,
    orders,
    order_items,
    payments,
    gateway_events,
    checkout_sessions,
    gateway_customers,
    invoice_counters,
    usage_counters,
    limit_overrides,
    idempotency_keys,
    audit_log,
    webhook_endpoints,
    webhook_events,
    webhook_sequences,
    webhook_deliveries,
    coupons,
    coupon_redemptions,
    credit_entries,
);

diesel::table! {
    documents (kind, owner_id) {
        kind -> Text,
        owner_id -> BigInt,
        number -> Text,
        sha256 -> Text,
        content -> Binary,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(documents, orders);

diesel::table! {
    order_status_counts (status, shard) {
        status -> Text,
        shard -> Integer,
        n -> BigInt,
    }
}

diesel::table! {
    credit_note_counters (year) {
        year -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    credit_notes (id) {
        id -> BigInt,
        number -> Text,
        year -> Integer,
        seq -> BigInt,
        order_id -> BigInt,
        account_kind -> Text,
        account_id -> BigInt,
        invoice_number -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        order_total_minor -> BigInt,
        refunded_after_minor -> BigInt,
        reason -> Text,
        refund_to -> Text,
        refund_provider -> Text,
        refund_status -> Text,
        refund_reference -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(credit_notes -> orders (order_id));
diesel::allow_tables_to_appear_in_same_query!(credit_notes, orders);
diesel::allow_tables_to_appear_in_same_query!(credit_notes, documents);
diesel::allow_tables_to_appear_in_same_query!(renewal_charges, orders);
diesel::allow_tables_to_appear_in_same_query!(renewal_charges, payments);
