use sqlx::PgPool;

#[derive(sqlx::FromRow)]
pub struct PkiRow {
    pub ca_cert_pem: String,
    pub ca_key_sealed: Vec<u8>,
    pub tls_crypt_key_sealed: Vec<u8>,
}

pub async fn get(pool: &PgPool) -> sqlx::Result<Option<PkiRow>> {
    sqlx::query_as::<_, PkiRow>("SELECT ca_cert_pem, ca_key_sealed, tls_crypt_key_sealed FROM pki")
        .fetch_optional(pool)
        .await
}

/// Stores a new CA unless one exists (instances starting together race here; one wins).
pub async fn insert_if_absent(pool: &PgPool, row: &PkiRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO pki (ca_cert_pem, ca_key_sealed, tls_crypt_key_sealed) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&row.ca_cert_pem)
    .bind(&row.ca_key_sealed)
    .bind(&row.tls_crypt_key_sealed)
    .execute(pool)
    .await?;
    Ok(())
}
