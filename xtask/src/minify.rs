//! Short names for what the wasm imports and exports.
//!
//! wasm-bindgen names every import after its Rust path plus a 64-bit hash
//! (`__wbg_fetch_6bbc32f991730587`, module `./oidc_session_bg.js`) and some exports after whole
//! generic signatures (300+ characters). Each name is written in the wasm and again in the JS
//! glue, and the hashes do not compress. `wasm-opt --minify-imports-and-exports-and-modules`
//! renames them all (one module `a`, names `a`, `b`, …) and prints the mapping; this module
//! applies that mapping to the glue. Measured: 2.0 KB gzip less wasm, plus the glue's share.

use crate::util::{self, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One renamed import: its module, its name, and the new name (in module [`MODULE`]).
struct Import {
    module: String,
    name: String,
    new: String,
}

/// Exports: (old name, new name).
type Exports = Vec<(String, String)>;

/// The one module every import is renamed into.
const MODULE: &str = "a";

/// The glue's own import module, as wasm-bindgen writes it.
fn glue_module(name: &str) -> String {
    format!("./{name}_bg.js")
}

/// Renames the imports and exports of `wasm` (in place) and rewrites `glue` to match.
pub fn apply(wasm_opt: &Path, features: &[&str], wasm: &Path, glue: &Path, name: &str) -> Result {
    let tmp = wasm.with_extension("min.wasm");
    let mut cmd = Command::new(wasm_opt);
    cmd.args(features)
        .arg("--minify-imports-and-exports-and-modules")
        .arg(wasm)
        .arg("-o")
        .arg(&tmp);
    println!("  $ {}", util::show(&cmd));
    let out = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", wasm_opt.display()))?;
    if !out.status.success() {
        return Err(format!(
            "wasm-opt --minify-imports-and-exports-and-modules failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let (imports, exports) = parse_mapping(&String::from_utf8_lossy(&out.stdout))?;
    let js = fs::read_to_string(glue).map_err(|e| format!("reading {}: {e}", glue.display()))?;
    let js = rewrite_glue(&js, &imports, &exports, &glue_module(name))?;
    fs::write(glue, js).map_err(|e| format!("writing {}: {e}", glue.display()))?;
    fs::rename(&tmp, wasm).map_err(|e| format!("moving {}: {e}", tmp.display()))?;
    println!(
        "build: {} imports and {} exports renamed",
        imports.len(),
        exports.len()
    );
    Ok(())
}

/// The quoted strings of one line of wasm-opt's mapping (`["module", "name", "new"],`).
fn quoted(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

/// wasm-opt's mapping: `{"imports": [[module, name, new], …], "exports": [[name, new], …]}`,
/// one entry per line.
fn parse_mapping(text: &str) -> Result<(Vec<Import>, Exports)> {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    for line in text.lines() {
        match quoted(line).as_slice() {
            [module, name, new] => imports.push(Import {
                module: (*module).into(),
                name: (*name).into(),
                new: (*new).into(),
            }),
            [name, new] => exports.push(((*name).into(), (*new).into())),
            _ => {}
        }
    }
    if imports.is_empty() || exports.is_empty() {
        return Err(format!("wasm-opt printed no name mapping:\n{text}"));
    }
    Ok((imports, exports))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// `text` with every whole-identifier occurrence of `old` replaced by `new`; how many there were.
fn replace_ident(text: &str, old: &str, new: &str) -> (String, usize) {
    let (mut out, mut rest, mut n) = (String::with_capacity(text.len()), text, 0);
    while let Some(i) = rest.find(old) {
        let before = if i > 0 {
            rest[..i].chars().last()
        } else {
            out.chars().last()
        };
        let after = rest[i + old.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(is_ident) || after.is_some_and(is_ident) {
            out.push_str(old);
        } else {
            out.push_str(new);
            n += 1;
        }
        rest = &rest[i + old.len()..];
    }
    out.push_str(rest);
    (out, n)
}

/// Applies the mapping to wasm-bindgen's `--target web` glue (unminified):
/// - the glue's own imports are the keys of `const import0 = { … }`: renamed;
/// - imports straight from a snippet (`import * as importN from "./snippets/…"`) become members
///   of `import0` that point into that snippet module;
/// - the import object `{ "./{name}_bg.js": import0, "./snippets/…": importN, … }` becomes
///   `{ a: import0 }`;
/// - exports are read as `wasm.NAME`: renamed.
///
/// Fails when the glue does not have the expected shape (a wasm-bindgen upgrade), so a
/// mismatch stops the build instead of shipping a bundle that cannot instantiate.
fn rewrite_glue(
    js: &str,
    imports: &[Import],
    exports: &[(String, String)],
    glue_module: &str,
) -> Result<String> {
    let mut js = js.to_owned();
    let mut snippet_members = String::new();
    for i in imports {
        if i.module == glue_module {
            let (next, n) = replace_ident(&js, &i.name, &i.new);
            if n != 1 {
                return Err(format!(
                    "glue: import `{}` found {n} times, expected once",
                    i.name
                ));
            }
            js = next;
        } else {
            let var = namespace_of(&js, &i.module)
                .ok_or_else(|| format!("glue: no `import * as … from \"{}\"`", i.module))?;
            snippet_members.push_str(&format!("\n        {}: {var}.{},", i.new, i.name));
        }
    }
    let head = "const import0 = {\n        __proto__: null,";
    if !js.contains(head) {
        return Err("glue: `const import0 = {` not found".into());
    }
    js = js.replacen(head, &format!("{head}{snippet_members}"), 1);

    // The import object handed to WebAssembly.instantiate.
    let start = format!("\"{glue_module}\": import0,");
    let at = js
        .find(&start)
        .ok_or_else(|| format!("glue: import object entry {start} not found"))?;
    let end = js[at..]
        .find('}')
        .map(|e| at + e)
        .ok_or("glue: import object not closed")?;
    js.replace_range(at..end, &format!("{MODULE}: import0,\n    "));

    // Some exports are never read by the glue (wasm-bindgen's abort hooks): nothing to do.
    for (old, new) in exports {
        js = replace_ident(&js, &format!("wasm.{old}"), &format!("wasm.{new}")).0;
    }
    if let Some(i) = js.find("wasm.__wbindgen") {
        return Err(format!(
            "glue: `{}` is not an export of the wasm",
            &js[i..js.len().min(i + 40)]
        ));
    }
    Ok(js)
}

/// The variable of `import * as VAR from "MODULE"`.
fn namespace_of(js: &str, module: &str) -> Option<String> {
    js.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("import * as ")?;
        let (var, from) = rest.split_once(" from ")?;
        (from.trim_end_matches(';').trim() == format!("\"{module}\"")).then(|| var.to_owned())
    })
}

/// Moves the JS snippets the glue imports by name (`import { a, b } from './snippets/…'`) into
/// the glue itself, as a bundler's scope hoisting would: the package then ships one JS file,
/// and terser can mangle the snippet's functions, which were exports (names it must keep).
/// Measured: glue + platform.js 5,490 -> 4,935 B gzip. Fails when a snippet has another shape
/// than plain `export` declarations, or when the merged module does not parse (a name declared
/// in both), so a mismatch stops the build.
pub fn inline_snippets(pkg: &Path, glue: &Path) -> Result {
    let js = fs::read_to_string(glue).map_err(|e| format!("reading {}: {e}", glue.display()))?;
    let mut head = String::new();
    let mut body = String::new();
    let mut inlined: Vec<PathBuf> = Vec::new();
    // Each snippet is hoisted once, however many import lines name it.
    let mut hoist = |path: &str, head: &mut String| -> Result<String> {
        let file = pkg.join(path.trim_start_matches("./"));
        let code =
            fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        if !inlined.contains(&file) {
            head.push_str(&hoisted(&code).map_err(|e| format!("{}: {e}", file.display()))?);
            inlined.push(file);
        }
        Ok(code)
    };
    for line in js.lines() {
        if let Some((names, path)) = snippet_import(line) {
            hoist(path, &mut head)?;
            for (name, local) in names {
                if name != local {
                    head.push_str(&format!("const {local} = {name};\n"));
                }
            }
        } else if let Some((var, path)) = snippet_namespace(line) {
            // `import * as VAR`: the glue reads `VAR.name` (imports it passes to the wasm as
            // they are); VAR becomes an object of the snippet's exports.
            let code = hoist(path, &mut head)?;
            head.push_str(&format!(
                "const {var} = {{ {} }};\n",
                exported_names(&code).join(", ")
            ));
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    if inlined.is_empty() {
        return Ok(());
    }
    let merged = format!("{head}\n{body}");
    check_module(&merged)?;
    fs::write(glue, merged).map_err(|e| format!("writing {}: {e}", glue.display()))?;
    let _ = fs::remove_dir_all(pkg.join("snippets"));
    println!("build: {} snippet(s) inlined into the glue", inlined.len());
    Ok(())
}

/// `import * as VAR from "./snippets/…";` -> (VAR, path).
fn snippet_namespace(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("import * as ")?;
    let (var, from) = rest.split_once(" from ")?;
    let path = from
        .trim()
        .trim_end_matches(';')
        .trim_matches(|c| c == '\'' || c == '"');
    path.starts_with("./snippets/")
        .then_some((var.trim(), path))
}

/// The names a snippet exports (`export function|async function|const|let|class NAME`).
fn exported_names(code: &str) -> Vec<&str> {
    code.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|d| {
            let d = ["async function ", "function ", "const ", "let ", "class "]
                .iter()
                .find_map(|k| d.strip_prefix(k))?;
            let end = d
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(d.len());
            (end > 0).then(|| &d[..end])
        })
        .collect()
}

/// `import { a, b as c } from './snippets/…';` -> ([(a, a), (b, c)], path).
fn snippet_import(line: &str) -> Option<(Vec<(&str, &str)>, &str)> {
    let rest = line.trim().strip_prefix("import {")?;
    let (names, from) = rest.split_once('}')?;
    let path = from
        .trim()
        .strip_prefix("from ")?
        .trim_end_matches(';')
        .trim_matches(|c| c == '\'' || c == '"');
    if !path.starts_with("./snippets/") {
        return None;
    }
    let names = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.split_once(" as ").unwrap_or((n, n)))
        .collect();
    Some((names, path))
}

/// A snippet's code with its `export` keywords removed; only `export function|async
/// function|const|let|class` declarations are understood.
fn hoisted(code: &str) -> Result<String> {
    let mut out = String::with_capacity(code.len());
    for line in code.lines() {
        let decl = line.strip_prefix("export ");
        match decl {
            Some(d)
                if ["function ", "async function ", "const ", "let ", "class "]
                    .iter()
                    .any(|k| d.starts_with(k)) =>
            {
                out.push_str(d)
            }
            Some(_) => return Err(format!("unsupported export: {line}")),
            None if line.starts_with("import ") => {
                return Err(format!("a snippet that imports cannot be inlined: {line}"))
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    Ok(out)
}

/// What the package's d.ts says `init()` and `initSync()` return. wasm-bindgen declares
/// `InitOutput` as the wasm's exports by their original names (`memory`, `sessionmanager_new`,
/// 300-character closure shims); after [`apply`] none of them exists, so an app that read
/// `(await init()).memory` would compile and get `undefined`.
const INIT_OUTPUT: &str =
    "/** The instance's exports. Their names are minified when the package is built: not an API. */
export type InitOutput = WebAssembly.Exports;";

/// Replaces `export interface InitOutput { … }` in wasm-bindgen's declarations (`dts`) with
/// [`INIT_OUTPUT`], to match the renamed exports. Fails when the d.ts has no such interface
/// (a wasm-bindgen upgrade changed it), so that a stale declaration is never shipped.
pub fn declarations(dts: &Path) -> Result {
    let text = fs::read_to_string(dts).map_err(|e| format!("reading {}: {e}", dts.display()))?;
    let text = retype_init_output(&text)?;
    fs::write(dts, text).map_err(|e| format!("writing {}: {e}", dts.display()))
}

fn retype_init_output(dts: &str) -> Result<String> {
    let head = "export interface InitOutput {";
    let start = dts
        .find(head)
        .ok_or("d.ts: `export interface InitOutput {` not found")?;
    let end = dts[start..]
        .find("\n}")
        .map(|e| start + e + 2)
        .ok_or("d.ts: `InitOutput` not closed")?;
    let mut out = String::with_capacity(dts.len());
    out.push_str(&dts[..start]);
    out.push_str(INIT_OUTPUT);
    out.push_str(&dts[end..]);
    Ok(out)
}

/// `node --check` on `js` as an ES module: a name declared twice is a syntax error there.
fn check_module(js: &str) -> Result {
    let tmp = std::env::temp_dir().join(format!("oidc-session-glue-{}.mjs", std::process::id()));
    fs::write(&tmp, js).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    let out = Command::new("node").arg("--check").arg(&tmp).output();
    let _ = fs::remove_file(&tmp);
    let out = out.map_err(|e| format!("running node --check: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the glue with its snippets inlined is not a valid module:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn init_output_is_declared_without_the_old_export_names() {
        let dts = "export type InitInput = URL;\n\nexport interface InitOutput {\n    \
                   readonly memory: WebAssembly.Memory;\n    readonly sessionmanager_new: (a: number) => number;\n}\n\n\
                   export type SyncInitInput = BufferSource;\n";
        let out = super::retype_init_output(dts).unwrap();
        assert_eq!(
            out,
            format!(
                "export type InitInput = URL;\n\n{}\n\nexport type SyncInitInput = BufferSource;\n",
                super::INIT_OUTPUT
            )
        );
        assert!(super::retype_init_output("export type InitInput = URL;").is_err());
    }

    #[test]
    fn namespace_imports_and_export_names_are_read() {
        assert_eq!(
            snippet_namespace("import * as import1 from \"./snippets/x/p.js\";"),
            Some(("import1", "./snippets/x/p.js"))
        );
        assert_eq!(
            snippet_namespace("import * as w from \"./oidc_session_bg.js\";"),
            None
        );
        let code = "export function a(x) {}\nexport async function b() {}\nexport const c = 1;\nconst d = 2;\n";
        assert_eq!(exported_names(code), ["a", "b", "c"]);
    }

    #[test]
    fn snippet_imports_are_read_with_their_aliases() {
        let (names, path) =
            snippet_import("import { a, b as c } from './snippets/x-1/src/p.js';").unwrap();
        assert_eq!(names, vec![("a", "a"), ("b", "c")]);
        assert_eq!(path, "./snippets/x-1/src/p.js");
        assert!(snippet_import("import { a } from './oidc_session_bg.js';").is_none());
        assert!(snippet_import("const x = 1;").is_none());
    }

    #[test]
    fn snippets_are_hoisted_only_when_plain_declarations() {
        let code = "const A = 1;\nexport function f() {}\nexport async function g() {}\nexport const h = () => A;\n";
        assert_eq!(
            hoisted(code).unwrap(),
            "const A = 1;\nfunction f() {}\nasync function g() {}\nconst h = () => A;\n"
        );
        assert!(hoisted("export default 1;").is_err());
        assert!(hoisted("export { f };").is_err());
        assert!(hoisted("import x from './y.js';").is_err());
    }
    use super::*;

    #[test]
    fn identifiers_are_replaced_whole() {
        let (s, n) = replace_ident(
            "wasm.free(x); wasm.free_all(); wasm.free",
            "wasm.free",
            "wasm.a",
        );
        assert_eq!(s, "wasm.a(x); wasm.free_all(); wasm.a");
        assert_eq!(n, 2);
        let (s, n) = replace_ident("x__wbg_f_1: y, __wbg_f_1: z", "__wbg_f_1", "b");
        assert_eq!(s, "x__wbg_f_1: y, b: z");
        assert_eq!(n, 1);
    }

    #[test]
    fn the_glue_is_rewritten_to_the_short_names() {
        let glue = r#"import * as import1 from "./snippets/x/platform.js"
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_fetch_0123456789abcdef: function(arg0) { return fetch(arg0); },
    };
    return {
        __proto__: null,
        "./m_bg.js": import0,
        "./snippets/x/platform.js": import1,
    };
}
function go() { wasm.start_me(); return wasm.memory.buffer; }
"#;
        let imports = [
            Import {
                module: "./m_bg.js".into(),
                name: "__wbg_fetch_0123456789abcdef".into(),
                new: "a".into(),
            },
            Import {
                module: "./snippets/x/platform.js".into(),
                name: "send".into(),
                new: "b".into(),
            },
        ];
        let exports = [
            ("start_me".to_owned(), "c".to_owned()),
            ("memory".to_owned(), "d".to_owned()),
        ];
        let js = rewrite_glue(glue, &imports, &exports, "./m_bg.js").unwrap();
        assert!(js.contains("b: import1.send,"), "{js}");
        assert!(js.contains("a: function(arg0)"), "{js}");
        assert!(js.contains("a: import0,\n    };"), "{js}");
        assert!(
            !js.contains("\"./snippets/x/platform.js\": import1"),
            "{js}"
        );
        assert!(js.contains("wasm.c(); return wasm.d.buffer;"), "{js}");
    }

    #[test]
    fn a_glue_of_another_shape_stops_the_build() {
        let imports = [Import {
            module: "./m_bg.js".into(),
            name: "__wbg_gone".into(),
            new: "a".into(),
        }];
        assert!(rewrite_glue("const x = 1;", &imports, &[], "./m_bg.js").is_err());
    }

    #[test]
    fn the_mapping_is_read_line_by_line() {
        let text = "{\n \"imports\": [\n  [\"./m_bg.js\", \"__wbg_x\", \"a\"],\n ],\n\"exports\": [\n  [\"memory\", \"b\"]\n ]\n}";
        let (i, e) = parse_mapping(text).unwrap();
        assert_eq!((i[0].name.as_str(), i[0].new.as_str()), ("__wbg_x", "a"));
        assert_eq!(e, [("memory".to_owned(), "b".to_owned())]);
    }
}
