use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::helpers::{create_database, drop_database};
use firebreak::db;

#[test]
fn migrations_apply_revert_and_apply_again() {
    let (name, url) = create_database(false);
    let applied = db::run_migrations(&url).expect("apply");
    assert!(applied > 0);
    let reverted = db::revert_all_migrations(&url).expect("revert");
    assert_eq!(reverted, applied);
    {
        let mut conn = PgConnection::establish(&url).expect("connect");
        assert!(diesel::sql_query("SELECT 1 FROM users").execute(&mut conn).is_err(), "tables are gone");
    }
    assert_eq!(db::run_migrations(&url).expect("apply again"), applied);
    drop_database(&name);
}
