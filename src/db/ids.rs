//! Typed ids: an `IncidentId` can never be passed where a `UserId` is meant.

use diesel::deserialize::{FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{Output, ToSql};
use diesel::sql_types::BigInt;
use serde::{Deserialize, Serialize};

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow, Serialize, Deserialize)]
        #[diesel(sql_type = BigInt)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl ToSql<BigInt, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
                <i64 as ToSql<BigInt, Pg>>::to_sql(&self.0, out)
            }
        }

        impl FromSql<BigInt, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> diesel::deserialize::Result<Self> {
                <i64 as FromSql<BigInt, Pg>>::from_sql(bytes).map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

typed_id!(
    /// A row of `users`.
    UserId
);

typed_id!(
    /// A row of `incidents`.
    IncidentId
);
typed_id!(
    /// A row of `components`.
    ComponentId
);
typed_id!(
    /// A row of `timeline_entries`.
    EntryId
);
typed_id!(
    /// A row of `tasks`.
    TaskId
);
typed_id!(
    /// A row of `change_requests`.
    ChangeRequestId
);
typed_id!(
    /// A row of `incident_roles`.
    RoleAssignmentId
);
typed_id!(
    /// A row of `stakeholder_groups`.
    GroupId
);
typed_id!(
    /// A row of `incident_updates`.
    UpdateId
);
typed_id!(
    /// A row of `maintenances`.
    MaintenanceId
);
typed_id!(
    /// A row of `subscribers`.
    SubscriberId
);
typed_id!(
    /// A row of `outbox`.
    OutboxId
);
typed_id!(
    /// A row of `runbooks`.
    RunbookId
);
typed_id!(
    /// A row of `webhooks`.
    WebhookId
);
typed_id!(
    /// A row of `webhook_deliveries`.
    WebhookDeliveryId
);
typed_id!(
    /// A row of `postmortems`.
    PostmortemId
);
typed_id!(
    /// A row of `api_tokens`.
    ApiTokenId
);
typed_id!(
    /// A row of `review_meetings`.
    MeetingId
);
typed_id!(
    /// A row of `alert_sources`.
    AlertSourceId
);
typed_id!(
    /// A row of `alerts`.
    AlertId
);
typed_id!(
    /// A row of `alert_payloads`.
    AlertPayloadId
);
typed_id!(
    /// A row of `oncall_schedules`.
    ScheduleId
);
typed_id!(
    /// A row of `oncall_layers`.
    LayerId
);
typed_id!(
    /// A row of `escalation_policies`.
    PolicyId
);
typed_id!(
    /// A row of `pages`.
    PageId
);
typed_id!(
    /// A row of `contact_methods`.
    ContactMethodId
);
typed_id!(
    /// A row of `page_notifications`.
    PageNotificationId
);
typed_id!(
    /// A row of `user_sessions`.
    SessionId
);
