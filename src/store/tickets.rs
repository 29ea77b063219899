//! Support tickets and their messages.
use super::read;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Ticket {
    pub id: i64,
    pub user_id: i64,
    pub subject: String,
    pub category: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub last_message_at: OffsetDateTime,
    pub username: String,
    pub email: String,
    pub messages: i64,
}

const TICKET_SELECT: &str =
    "SELECT t.id, t.user_id, t.subject, t.category, t.status, t.created_at, t.last_message_at, \
     u.username::text AS username, u.email::text AS email, \
     (SELECT count(*) FROM ticket_messages m WHERE m.ticket_id = t.id AND NOT m.internal) AS messages \
     FROM tickets t JOIN users u ON u.id = t.user_id";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    pub id: i64,
    pub author: Option<String>,
    pub from_staff: bool,
    pub internal: bool,
    pub body: String,
    pub created_at: OffsetDateTime,
}

/// Opens a ticket with its first message; its id.
pub async fn insert(
    conn: &mut PgConnection,
    user_id: i64,
    subject: &str,
    category: &str,
    body: &str,
) -> sqlx::Result<i64> {
    let id: i64 =
        sqlx::query_scalar("INSERT INTO tickets (user_id, subject, category) VALUES ($1, $2, $3) RETURNING id")
            .bind(user_id)
            .bind(subject)
            .bind(category)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query("INSERT INTO ticket_messages (ticket_id, author_id, from_staff, body) VALUES ($1, $2, false, $3)")
        .bind(id)
        .bind(user_id)
        .bind(body)
        .execute(conn)
        .await?;
    Ok(id)
}

/// The user's tickets, newest activity first.
pub async fn users_tickets(pool: &PgPool, user_id: i64) -> sqlx::Result<Vec<Ticket>> {
    read(|| {
        sqlx::query_as::<_, Ticket>(sqlx::AssertSqlSafe(format!(
            "{TICKET_SELECT} WHERE t.user_id = $1 ORDER BY t.last_message_at DESC LIMIT 200"
        )))
        .bind(user_id)
        .fetch_all(pool)
    })
    .await
}

/// A ticket of this user's; another user's is None, as if it did not exist.
pub async fn users_ticket(pool: &PgPool, user_id: i64, id: i64) -> sqlx::Result<Option<Ticket>> {
    read(|| {
        sqlx::query_as::<_, Ticket>(sqlx::AssertSqlSafe(format!("{TICKET_SELECT} WHERE t.id = $1 AND t.user_id = $2")))
            .bind(id)
            .bind(user_id)
            .fetch_optional(pool)
    })
    .await
}

pub async fn ticket(pool: &PgPool, id: i64) -> sqlx::Result<Option<Ticket>> {
    read(|| {
        sqlx::query_as::<_, Ticket>(sqlx::AssertSqlSafe(format!("{TICKET_SELECT} WHERE t.id = $1")))
            .bind(id)
            .fetch_optional(pool)
    })
    .await
}

/// The ticket's messages in order; internal notes only when `staff`.
pub async fn messages(pool: &PgPool, ticket_id: i64, staff: bool) -> sqlx::Result<Vec<Message>> {
    read(|| {
        sqlx::query_as::<_, Message>(
            "SELECT m.id, u.username::text AS author, m.from_staff, m.internal, m.body, m.created_at \
             FROM ticket_messages m LEFT JOIN users u ON u.id = m.author_id \
             WHERE m.ticket_id = $1 AND (NOT m.internal OR $2) ORDER BY m.id",
        )
        .bind(ticket_id)
        .bind(staff)
        .fetch_all(pool)
    })
    .await
}

/// A message to add to a ticket.
pub struct NewMessage<'a> {
    pub ticket_id: i64,
    /// The ticket must be this user's (None: staff, any ticket).
    pub owner: Option<i64>,
    pub author_id: i64,
    pub from_staff: bool,
    pub internal: bool,
    pub body: &'a str,
    /// The ticket's status after it (None: an internal note leaves it as it is).
    pub status: Option<&'a str>,
}

/// Adds a message and moves the ticket to its status. False: no such ticket (for the owner).
pub async fn add_message(conn: &mut PgConnection, m: &NewMessage<'_>) -> sqlx::Result<bool> {
    let found = sqlx::query(
        "UPDATE tickets SET status = coalesce($3, status), \
         last_message_at = CASE WHEN $4 THEN last_message_at ELSE now() END \
         WHERE id = $1 AND ($2::bigint IS NULL OR user_id = $2)",
    )
    .bind(m.ticket_id)
    .bind(m.owner)
    .bind(m.status)
    .bind(m.internal)
    .execute(&mut *conn)
    .await?;
    if found.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO ticket_messages (ticket_id, author_id, from_staff, internal, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(m.ticket_id)
    .bind(m.author_id)
    .bind(m.from_staff)
    .bind(m.internal)
    .bind(m.body)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Sets the status; `owner`: only if the ticket is this user's. False: no such ticket.
pub async fn set_status(pool: &PgPool, ticket_id: i64, owner: Option<i64>, status: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE tickets SET status = $3 WHERE id = $1 AND ($2::bigint IS NULL OR user_id = $2)")
        .bind(ticket_id)
        .bind(owner)
        .bind(status)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The admins' queue: tickets of a status (or all), waiting longer than `older_than_hours`,
/// the longest-waiting first.
pub async fn queue(pool: &PgPool, status: Option<&str>, older_than_hours: i64) -> sqlx::Result<Vec<Ticket>> {
    read(|| {
        sqlx::query_as::<_, Ticket>(sqlx::AssertSqlSafe(format!(
            "{TICKET_SELECT} WHERE ($1::text IS NULL OR t.status = $1) \
             AND t.last_message_at <= now() - make_interval(hours => $2::int) ORDER BY t.last_message_at LIMIT 200"
        )))
        .bind(status)
        .bind(older_than_hours as i32)
        .fetch_all(pool)
    })
    .await
}

/// Open tickets (waiting for support).
pub async fn open_count(pool: &PgPool) -> sqlx::Result<i64> {
    read(|| sqlx::query_scalar("SELECT count(*) FROM tickets WHERE status = 'open'").fetch_one(pool)).await
}
