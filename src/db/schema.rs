// @generated shape of `diesel print-schema` (see diesel.toml); both backends share it.

diesel::table! {
    api_tokens (id) {
        id -> Integer,
        user_id -> Integer,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    app_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    activity_log (id) {
        id -> Integer,
        at -> Timestamp,
        user_id -> Nullable<Integer>,
        action -> Text,
        contact_id -> Nullable<Integer>,
        count -> Integer,
        summary -> Text,
    }
}

diesel::table! {
    owner_status_counts (owner_id, status_id) {
        owner_id -> Integer,
        status_id -> Integer,
        total -> Integer,
    }
}

diesel::table! {
    lead_models (id) {
        id -> Integer,
        trained_at -> Timestamp,
        closed -> Integer,
        won -> Integer,
        auc -> Nullable<Double>,
        model -> Nullable<Text>,
        message -> Text,
    }
}

diesel::table! {
    pipeline_snapshots (period_days) {
        period_days -> Integer,
        computed_at -> Timestamp,
        figures -> Text,
    }
}

diesel::table! {
    contact_trash (contact_id) {
        contact_id -> Integer,
        deleted_by -> Nullable<Integer>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        identifier -> Nullable<Text>,
        identities -> Text,
        owner_id -> Nullable<Integer>,
    }
}

diesel::table! {
    contacts (id) {
        id -> Integer,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        identifier -> Nullable<Text>,
        company -> Nullable<Text>,
        city -> Nullable<Text>,
        country -> Nullable<Text>,
        status_id -> Integer,
        owner_id -> Nullable<Integer>,
        opted_out_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_activity_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        follow_up_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    contact_scores (contact_id) {
        contact_id -> Integer,
        score -> Integer,
    }
}

diesel::table! {
    custom_attributes (id) {
        id -> Integer,
        key -> Text,
        display_name -> Text,
        description -> Text,
        kind -> Text,
        options -> Text,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contact_attribute_values (contact_id, attribute_id) {
        contact_id -> Integer,
        attribute_id -> Integer,
        value_text -> Text,
        value_key -> Text,
        value_number -> Nullable<Double>,
    }
}

diesel::table! {
    inboxes (id) {
        id -> Integer,
        name -> Text,
        channel -> Text,
        delivery_kind -> Text,
        delivery_url -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contact_identities (id) {
        id -> Integer,
        contact_id -> Integer,
        inbox_id -> Integer,
        source_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    conversations (id) {
        id -> Integer,
        contact_id -> Integer,
        inbox_id -> Integer,
        status -> Text,
        unread -> Integer,
        last_message_at -> Nullable<Timestamp>,
        last_incoming_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_outbound_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    messages (id) {
        id -> Integer,
        conversation_id -> Integer,
        inbox_id -> Integer,
        direction -> Text,
        body -> Text,
        external_id -> Nullable<Text>,
        delivery -> Nullable<Text>,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        author_id -> Nullable<Integer>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contact_opt_outs (contact_id, inbox_id) {
        contact_id -> Integer,
        inbox_id -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Integer,
        url -> Text,
        events -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Integer,
        webhook_id -> Integer,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    labels (id) {
        id -> Integer,
        name -> Text,
        color -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contact_labels (contact_id, label_id) {
        contact_id -> Integer,
        label_id -> Integer,
    }
}

diesel::table! {
    notes (id) {
        id -> Integer,
        contact_id -> Integer,
        author_id -> Nullable<Integer>,
        kind -> Text,
        body -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<Integer>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    status_counts (status_id) {
        status_id -> Integer,
        total -> Integer,
    }
}

diesel::table! {
    status_history (id) {
        id -> Integer,
        contact_id -> Integer,
        from_id -> Nullable<Integer>,
        to_id -> Integer,
        source -> Text,
        user_id -> Nullable<Integer>,
        at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    merges (id) {
        id -> Integer,
        kept_id -> Integer,
        merged_id -> Integer,
        kept_name -> Text,
        merged_name -> Text,
        user_id -> Nullable<Integer>,
        record -> Text,
        created_at -> Timestamp,
        undone_at -> Nullable<Timestamp>,
        undone_by -> Nullable<Integer>,
    }
}

diesel::table! {
    contact_match_keys (contact_id, key_hash) {
        contact_id -> Integer,
        key_hash -> BigInt,
    }
}

diesel::table! {
    duplicate_backlog (contact_id) {
        contact_id -> Integer,
    }
}

diesel::table! {
    duplicate_pairs (contact_id, other_id) {
        contact_id -> Integer,
        other_id -> Integer,
        score -> Integer,
        reason -> Text,
    }
}

diesel::table! {
    seed_duplicates (contact_id) {
        contact_id -> Integer,
        original_id -> Integer,
        kind -> Text,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(contact_attribute_values -> contacts (contact_id));
diesel::joinable!(contact_attribute_values -> custom_attributes (attribute_id));
diesel::joinable!(contact_labels -> contacts (contact_id));
diesel::joinable!(contact_scores -> contacts (contact_id));
diesel::joinable!(contact_labels -> labels (label_id));
diesel::joinable!(notes -> contacts (contact_id));
diesel::joinable!(contact_match_keys -> contacts (contact_id));
diesel::table! {
    imports (id) {
        id -> Integer,
        user_id -> Integer,
        file_name -> Text,
        state -> Text,
        error -> Nullable<Text>,
        delimiter -> Text,
        header -> Text,
        mapping -> Text,
        total_rows -> BigInt,
        done_rows -> BigInt,
        cursor_person -> BigInt,
        planned_created -> BigInt,
        planned_updated -> BigInt,
        planned_skipped -> BigInt,
        planned_rejected -> BigInt,
        created -> BigInt,
        updated -> BigInt,
        skipped -> BigInt,
        rejected -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    import_rows (import_id, person, line) {
        import_id -> Integer,
        person -> BigInt,
        line -> BigInt,
        cells -> Text,
        read_error -> Nullable<Text>,
        check_error -> Nullable<Text>,
    }
}

diesel::table! {
    exports (id) {
        id -> Integer,
        user_id -> Nullable<Integer>,
        filter -> Text,
        row_count -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(merges -> users (user_id));
diesel::joinable!(imports -> users (user_id));
diesel::joinable!(import_rows -> imports (import_id));
diesel::joinable!(contact_identities -> contacts (contact_id));
diesel::joinable!(contact_identities -> inboxes (inbox_id));
diesel::joinable!(conversations -> contacts (contact_id));
diesel::joinable!(conversations -> inboxes (inbox_id));
diesel::joinable!(messages -> conversations (conversation_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(notes -> users (author_id));
diesel::joinable!(contacts -> users (owner_id));
diesel::joinable!(activity_log -> users (user_id));
diesel::joinable!(contact_trash -> contacts (contact_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(status_history -> contacts (contact_id));
diesel::joinable!(status_history -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    activity_log,
    lead_models,
    owner_status_counts,
    pipeline_snapshots,
    api_tokens,
    app_settings,
    contact_attribute_values,
    contact_identities,
    contact_match_keys,
    contact_labels,
    contact_opt_outs,
    contact_scores,
    contact_trash,
    contacts,
    conversations,
    custom_attributes,
    inboxes,
    duplicate_backlog,
    duplicate_pairs,
    exports,
    import_rows,
    imports,
    labels,
    merges,
    messages,
    notes,
    seed_duplicates,
    sessions,
    status_counts,
    status_history,
    users,
    webhook_deliveries,
    webhooks,
);
