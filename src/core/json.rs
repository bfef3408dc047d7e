//! A small, strict JSON reader and writer for the protocol's documents.
//!
//! Why not serde: in the wasm bundle serde-wasm-bindgen and the float formatting that serde's
//! error messages reach cost more than everything else the library does (see ARCHITECTURE.md).
//! Why strict: duplicate member names are refused (RFC 7519 7.2 / RFC 8259 4: a JWT whose
//! claims parse differently in two parsers is an attack), and nesting is bounded.

use crate::core::error::{Error, ErrorKind};
use crate::core::text::{cat, int, uint};
use std::cell::Cell;

/// A parsed JSON value. Objects keep member order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object.
    Obj(Vec<(String, Json)>),
}

const MAX_DEPTH: usize = 32;

/// Parses a complete JSON text. `None` on any syntax error, duplicate member, or excessive depth.
pub fn parse(text: &str) -> Option<Json> {
    let mut p = Parser { s: text, i: 0 };
    let v = p.value(0)?;
    p.ws();
    (p.i == p.b().len()).then_some(v)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    /// The text's bytes (the text is kept as `&str` so that strings are cut from it unchecked).
    fn b(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    // Called from eight places: one body, not eight inlined loops.
    #[inline(never)]
    fn ws(&mut self) {
        while matches!(self.b().get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> Option<()> {
        self.b()[self.i..]
            .starts_with(lit)
            .then(|| self.i += lit.len())
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        Some(match *self.b().get(self.i)? {
            b'n' => self.eat(b"null").map(|_| Json::Null)?,
            b't' => self.eat(b"true").map(|_| Json::Bool(true))?,
            b'f' => self.eat(b"false").map(|_| Json::Bool(false))?,
            b'"' => Json::Str(self.string()?),
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b"]").is_none() {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        if self.eat(b",").is_none() {
                            self.eat(b"]")?;
                            break;
                        }
                    }
                }
                Json::Arr(items)
            }
            b'{' => {
                self.i += 1;
                let mut members: Vec<(String, Json)> = Vec::new();
                self.ws();
                if self.eat(b"}").is_none() {
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.ws();
                        self.eat(b":")?;
                        let v = self.value(depth + 1)?;
                        if members.iter().any(|(m, _)| *m == k) {
                            return None;
                        }
                        members.push((k, v));
                        self.ws();
                        if self.eat(b",").is_none() {
                            self.eat(b"}")?;
                            break;
                        }
                    }
                }
                Json::Obj(members)
            }
            b'-' | b'0'..=b'9' => Json::Num(self.number()?),
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let s = self.b().get(self.i..self.i + 4)?;
        let mut n = 0;
        for &c in s {
            n = n * 16 + (c as char).to_digit(16)?;
        }
        self.i += 4;
        Some(n)
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b"\"")?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&c) = self.b().get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // Both ends sit next to ASCII bytes of valid text: no UTF-8 check is needed.
            out.push_str(self.s.get(start..self.i)?);
            match *self.b().get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let c = *self.b().get(self.i)?;
                    self.i += 1;
                    out.push(match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                self.eat(b"\\u")?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(cp)?
                        }
                        _ => return None,
                    });
                }
                _ => return None, // raw control character
            }
        }
    }

    /// JSON number grammar, evaluated without the float parser (integers below 2^53 are exact).
    fn number(&mut self) -> Option<f64> {
        let neg = self.eat(b"-").is_some();
        let digits = |p: &mut Self| {
            let s = p.i;
            while matches!(p.b().get(p.i), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            &p.b()[s..p.i]
        };
        let int = digits(self);
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return None;
        }
        let mut mantissa: u64 = 0;
        let mut exp: i32 = 0;
        let mut push = |d: u8, frac: bool| {
            if mantissa <= (u64::MAX - 9) / 10 {
                mantissa = mantissa * 10 + u64::from(d - b'0');
                if frac {
                    exp -= 1;
                }
            } else if !frac {
                exp += 1;
            }
        };
        int.iter().for_each(|&d| push(d, false));
        if self.eat(b".").is_some() {
            let frac = digits(self);
            if frac.is_empty() {
                return None;
            }
            frac.iter().for_each(|&d| push(d, true));
        }
        if matches!(self.b().get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            let eneg = match self.b().get(self.i) {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let e = digits(self);
            if e.is_empty() {
                return None;
            }
            let e = e
                .iter()
                .take(6)
                .fold(0i32, |a, &d| a * 10 + i32::from(d - b'0'));
            exp += if eneg { -e } else { e };
        }
        let v = mantissa as f64 * 10f64.powi(exp);
        Some(if neg { -v } else { v })
    }
}

impl Json {
    /// Serialises the value as JSON text.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    out.push_str(&int(*n as i64));
                } else {
                    out.push_str("null"); // fractional numbers do not occur in the documents we re-emit
                }
            }
            Json::Str(s) => quote(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    quote(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The value as JSON text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

/// Reads an object's members by name. A member that is `null` reads as absent.
///
/// A member of the wrong type reads as absent (or empty) and is recorded; the reader ends with
/// [`Fields::done`], which fails with the first such member. Reading on instead of returning at
/// the first bad member keeps each reader one straight line of code (no drop ladder per
/// member), which is most of their size in the bundle.
pub struct Fields<'a> {
    members: &'a [(String, Json)],
    bad: Cell<Option<&'static str>>,
}

/// A member read: `Err(name)` when it has the wrong type.
pub type Field<T> = Result<T, &'static str>;

impl<'a> Fields<'a> {
    /// The members of an object, or `None` for any other value.
    pub fn of(v: &'a Json) -> Option<Self> {
        match v {
            Json::Obj(m) => Some(Self {
                members: m,
                bad: Cell::new(None),
            }),
            _ => None,
        }
    }

    /// Records `k` as the offending member (the first one recorded wins) and reads as `T`'s default.
    pub fn fail<T: Default>(&self, k: &'static str) -> T {
        if self.bad.get().is_none() {
            self.bad.set(Some(k));
        }
        T::default()
    }

    /// `value`, unless a member was recorded as bad.
    pub fn done<T>(&self, value: T) -> Field<T> {
        match self.bad.get() {
            None => Ok(value),
            Some(k) => Err(k),
        }
    }

    /// The raw member.
    pub fn get(&self, k: &str) -> Option<&'a Json> {
        self.members
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, Json::Null))
    }

    /// A string member.
    pub fn str(&self, k: &'static str) -> Option<String> {
        match self.get(k) {
            None => None,
            Some(Json::Str(s)) => Some(s.clone()),
            Some(_) => self.fail(k),
        }
    }

    /// A required string member.
    pub fn req_str(&self, k: &'static str) -> String {
        self.str(k).unwrap_or_else(|| self.fail(k))
    }

    /// A finite number member.
    pub fn num(&self, k: &'static str) -> Option<f64> {
        match self.get(k) {
            None => None,
            Some(Json::Num(n)) if n.is_finite() => Some(*n),
            Some(_) => self.fail(k),
        }
    }

    /// A non-negative whole number member.
    pub fn uint(&self, k: &'static str) -> Option<u64> {
        match self.num(k) {
            None => None,
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 9.0e15 => Some(n as u64),
            Some(_) => self.fail(k),
        }
    }

    /// A boolean member.
    pub fn bool(&self, k: &'static str) -> Option<bool> {
        match self.get(k) {
            None => None,
            Some(Json::Bool(b)) => Some(*b),
            Some(_) => self.fail(k),
        }
    }

    /// An array-of-strings member; with `one_ok`, a single string reads as one element (`aud`).
    pub fn strs(&self, k: &'static str, one_ok: bool) -> Option<Vec<String>> {
        let items = match self.get(k)? {
            Json::Str(s) if one_ok => return Some(vec![s.clone()]),
            Json::Arr(items) => items,
            _ => return self.fail(k),
        };
        let mut out = Vec::new();
        for i in items {
            match i {
                Json::Str(s) => out.push(s.clone()),
                _ => return self.fail(k),
            }
        }
        Some(out)
    }

    /// An object-of-strings member, in order (`extraParams`).
    pub fn str_map(&self, k: &'static str) -> Option<Vec<(String, String)>> {
        let Json::Obj(members) = self.get(k)? else {
            return self.fail(k);
        };
        let mut out = Vec::new();
        for (n, v) in members {
            match v {
                Json::Str(s) => out.push((n.clone(), s.clone())),
                _ => return self.fail(k),
            }
        }
        Some(out)
    }
}

/// A type read from a JSON document received from elsewhere.
pub trait FromJson: Sized {
    /// Reads the value; `Err(member)` names the offending member.
    fn read(f: &Fields<'_>) -> Field<Self>;
}

/// Parses `text` as an object of type `T`; errors say which document (`what`) and member failed.
pub fn decode<T: FromJson>(text: &str, what: &'static str) -> Result<T, Error> {
    // The generic part is only the read: parsing and the errors are compiled once.
    let members = object(text, what)?;
    let f = Fields {
        members: &members,
        bad: Cell::new(None),
    };
    T::read(&f).map_err(|m| bad_member(what, m))
}

/// Not inlined: `decode` is compiled once per document type, its error once.
#[inline(never)]
fn bad_member(what: &'static str, m: &'static str) -> Error {
    invalid(
        what,
        cat(&["member `", m, "` is missing or has the wrong type"]),
    )
}

fn invalid(what: &'static str, reason: String) -> Error {
    ErrorKind::InvalidResponse { what, reason }.into()
}

/// `text` parsed as an object: its members (taken out of the value).
fn object(text: &str, what: &'static str) -> Result<Vec<(String, Json)>, Error> {
    match parse(text) {
        Some(Json::Obj(m)) => Ok(m),
        Some(_) => Err(invalid(what, "the body is not a JSON object".into())),
        None => Err(invalid(what, "the body is not valid JSON".into())),
    }
}

/// Writes a flat JSON object.
pub struct Writer(String);

impl Default for Writer {
    // One body for its callers in the flows: the bundle's MIR inlining copied it into each.
    #[inline(never)]
    fn default() -> Self {
        Self(String::from("{"))
    }
}

impl Writer {
    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        quote(&mut self.0, k);
        self.0.push(':');
    }

    /// A string member.
    pub fn str(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        quote(&mut self.0, v);
        self
    }

    /// A string member, omitted when `None`.
    pub fn opt_str(self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.str(k, v),
            None => self,
        }
    }

    /// A whole-number member, omitted when `None`.
    pub fn opt_uint(mut self, k: &str, v: Option<u64>) -> Self {
        if let Some(v) = v {
            self.key(k);
            self.0.push_str(&uint(v));
        }
        self
    }

    /// A member whose value is already JSON.
    pub fn value(mut self, k: &str, v: &Json) -> Self {
        self.key(k);
        v.write(&mut self.0);
        self
    }

    /// The finished object.
    // One body for its callers in the flows: the bundle's MIR inlining copied it into each.
    #[inline(never)]
    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documents() {
        let v = parse(r#" {"a": [1, -2.5, 3e2, 1E-1, 0], "b": {"c": null, "d": true}, "e": "x\"\\\/\n\u00e9\ud83d\ude00"} "#).unwrap();
        let f = Fields::of(&v).unwrap();
        assert_eq!(
            f.get("a"),
            Some(&Json::Arr(vec![
                Json::Num(1.0),
                Json::Num(-2.5),
                Json::Num(300.0),
                Json::Num(0.1),
                Json::Num(0.0)
            ]))
        );
        assert_eq!(f.str("e").unwrap(), "x\"\\/\né😀");
        assert_eq!(parse("1700000123").unwrap(), Json::Num(1_700_000_123.0));
        assert_eq!(
            parse("9007199254740991").unwrap(),
            Json::Num(9_007_199_254_740_991.0)
        );
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "<html>",
            "{",
            "{\"a\":1,}",
            "[1,]",
            "01",
            "1.",
            "-",
            "1e",
            "\"\u{1}\"",
            "{\"a\" 1}",
            "nul",
            "{} x",
            "\"\\x\"",
            "\"\\ud800\"",
            "{\"a\":1,\"a\":2}",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).is_none());
    }

    #[test]
    fn fields_check_types() {
        let v = parse(
            r#"{"s":"x","n":5,"f":1.5,"neg":-1,"b":true,"l":["a","b"],"m":{"k":"v"},"z":null}"#,
        )
        .unwrap();
        // One member per fresh reader, so `done` reports exactly that member.
        fn one<T>(v: &Json, r: impl Fn(&Fields<'_>) -> T) -> Field<T> {
            let f = Fields::of(v).unwrap();
            let x = r(&f);
            f.done(x)
        }
        assert_eq!(one(&v, |f| f.str("z")), Ok(None));
        assert_eq!(one(&v, |f| f.str("n")), Err("n"));
        assert_eq!(one(&v, |f| f.req_str("missing")), Err("missing"));
        assert_eq!(one(&v, |f| f.uint("n")), Ok(Some(5)));
        assert_eq!(one(&v, |f| f.uint("f")), Err("f"));
        assert_eq!(one(&v, |f| f.uint("neg")), Err("neg"));
        assert_eq!(one(&v, |f| f.bool("b")), Ok(Some(true)));
        assert_eq!(one(&v, |f| f.bool("s")), Err("s"));
        assert_eq!(
            one(&v, |f| f.strs("l", false)),
            Ok(Some(vec!["a".into(), "b".into()]))
        );
        assert_eq!(one(&v, |f| f.strs("s", true)), Ok(Some(vec!["x".into()])));
        assert_eq!(one(&v, |f| f.strs("s", false)), Err("s"));
        assert_eq!(
            one(&v, |f| f.str_map("m")),
            Ok(Some(vec![("k".into(), "v".into())]))
        );
        assert_eq!(one(&v, |f| f.str_map("l")), Err("l"));

        // An array with one non-string element is refused as a whole, not filtered.
        let mixed = parse(r#"{"l":["a",1],"m":{"k":2}}"#).unwrap();
        assert_eq!(one(&mixed, |f| f.strs("l", false)), Err("l"));
        assert_eq!(one(&mixed, |f| f.str_map("m")), Err("m"));

        // Reading goes on after a bad member, and the first bad member is the one reported.
        let f = Fields::of(&v).unwrap();
        let read = (f.str("n"), f.uint("f"), f.str("s"));
        assert_eq!(read, (None, None, Some("x".into())));
        assert_eq!(f.done(()), Err("n"));
    }

    #[test]
    fn writer_round_trips_through_the_parser() {
        let s = Writer::default()
            .str("a", "q\"\\\n\u{1}é")
            .opt_str("b", None)
            .opt_uint("c", Some(42))
            .finish();
        let v = parse(&s).unwrap();
        let f = Fields::of(&v).unwrap();
        assert_eq!(f.str("a").unwrap(), "q\"\\\n\u{1}é");
        assert_eq!(f.get("b"), None);
        assert_eq!(f.uint("c"), Some(42));
    }

    #[test]
    fn decode_names_the_member() {
        #[derive(Debug)]
        struct T;
        impl FromJson for T {
            fn read(f: &Fields<'_>) -> Field<Self> {
                f.req_str("issuer");
                f.done(T)
            }
        }
        let e = decode::<T>(r#"{"issuer": 1}"#, "discovery document").unwrap_err();
        assert!(e.to_string().contains("`issuer`"), "{e}");
        assert_eq!(
            decode::<T>("[]", "x").unwrap_err().code(),
            "invalid_response"
        );
    }
}
