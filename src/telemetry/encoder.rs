//! The portal's JSON log line (`kind: portal_json`): time (UTC, RFC 3339), level, target, message,
//! the source position, and the record's key-values under `attributes` with their JSON types
//! (a status is a number). About a third the cost of log4rs's `json` encoder, which formats local
//! time through chrono, looks up the thread and the MDC, and turns every attribute into a string.
use log::Record;
use log4rs::config::{Deserialize, Deserializers};
use log4rs::encode::{Encode, Write};
use serde::ser::{Error as _, SerializeMap};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Default)]
pub struct LineEncoder;

#[derive(Serialize)]
struct Line<'a> {
    time: &'a str,
    level: log::Level,
    target: &'a str,
    message: &'a std::fmt::Arguments<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    attributes: Attributes<'a>,
}

struct Attributes<'a>(&'a dyn log::kv::Source);

impl Serialize for Attributes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Visitor<M>(M);
        impl<'kvs, M: SerializeMap> log::kv::VisitSource<'kvs> for Visitor<M> {
            fn visit_pair(
                &mut self,
                key: log::kv::Key<'kvs>,
                value: log::kv::Value<'kvs>,
            ) -> Result<(), log::kv::Error> {
                self.0.serialize_entry(key.as_str(), &value).map_err(|e| log::kv::Error::boxed(e.to_string()))
            }
        }
        let mut visitor = Visitor(serializer.serialize_map(Some(self.0.count()))?);
        self.0.visit(&mut visitor).map_err(S::Error::custom)?;
        visitor.0.end()
    }
}

impl Encode for LineEncoder {
    fn encode(&self, w: &mut dyn Write, record: &Record) -> anyhow::Result<()> {
        let mut time = [0u8; 40];
        let mut cursor = std::io::Cursor::new(&mut time[..]);
        time::OffsetDateTime::now_utc().format_into(&mut cursor, &Rfc3339)?;
        let len = cursor.position() as usize;
        let line = Line {
            time: std::str::from_utf8(&time[..len])?,
            level: record.level(),
            target: record.target(),
            message: record.args(),
            file: record.file(),
            line: record.line(),
            attributes: Attributes(record.key_values()),
        };
        serde_json::to_writer(&mut *w, &line)?;
        w.write_all(b"\n")?;
        Ok(())
    }
}

/// `kind: portal_json` in a log4rs YAML file (no options).
pub struct LineEncoderDeserializer;

impl Deserialize for LineEncoderDeserializer {
    type Trait = dyn Encode;
    type Config = serde_json::Value;

    fn deserialize(&self, _: serde_json::Value, _: &Deserializers) -> anyhow::Result<Box<dyn Encode>> {
        Ok(Box::new(LineEncoder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use log4rs::encode::writer::simple::SimpleWriter;

    #[test]
    fn a_line_is_one_json_object_with_typed_attributes() {
        let kvs: &[(&str, log::kv::Value)] =
            &[("status", 503u16.into()), ("route", "/clients/<id>".into()), ("duration_ms", 1.25f64.into())];
        let mut out = SimpleWriter(Vec::new());
        LineEncoder
            .encode(
                &mut out,
                &Record::builder()
                    .args(format_args!("a \"quoted\"\nmessage"))
                    .level(log::Level::Warn)
                    .target("portal::request")
                    .key_values(&kvs)
                    .build(),
            )
            .unwrap();
        let text = String::from_utf8(out.0).unwrap();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1, "one line: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["message"], "a \"quoted\"\nmessage");
        assert_eq!(v["attributes"]["status"], 503);
        assert_eq!(v["attributes"]["route"], "/clients/<id>");
        assert_eq!(v["attributes"]["duration_ms"], 1.25);
        let time = v["time"].as_str().unwrap();
        assert!(time::OffsetDateTime::parse(time, &Rfc3339).is_ok(), "{time}");
    }
}
