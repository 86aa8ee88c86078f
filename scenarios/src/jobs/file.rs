//! A scenario file run as a job: a flood or traffic scenario TOML plus two top-level keys,
//! `model = "flood" | "traffic"` and `baseline = "<another scenario file>" | "none"`, with every
//! file it reads (CSV series, depth tables, the flood files of `flooded` edits) and a SHA-256
//! over those inputs.
//!
//! The model's own parser reads the rest ([`crate::flood::LoadedScenario`],
//! [`crate::traffic::scenario::Scenario`]); errors name the file, the line and the field.

use crate::error::{from_toml, line_of, Result, ScenarioError};
use crate::files::AllowedRoots;
use crate::flood::scenario::LoadedScenario;
use crate::traffic::scenario::{DemandSpec, EditSpec, Scenario};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use toml::Spanned;

/// Which engine runs a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// The flood engine ([`crate::flood`]).
    Flood,
    /// The traffic engine ([`crate::traffic`]).
    Traffic,
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Model::Flood => "flood",
            Model::Traffic => "traffic",
        })
    }
}

/// The engine-specific part of a scenario file.
#[derive(Clone, Debug)]
pub enum Parsed {
    /// A flood scenario.
    Flood(Box<LoadedScenario>),
    /// A traffic scenario.
    Traffic(Box<Scenario>),
}

/// A file a scenario reads.
#[derive(Clone, Debug)]
pub struct Input {
    /// The path relative to the top scenario file's folder (lexically joined, may hold `..`);
    /// absolute when written absolute.
    pub rel: PathBuf,
    /// Where it is now: canonical, inside the allowed folders ([`crate::files`]).
    pub path: PathBuf,
}

/// A scenario file, parsed, with its inputs and their hash.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    /// The file (for posted text: a name under the folder its relative paths are read from).
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Which engine runs it.
    pub model: Model,
    /// Display name (the `name` field, else the file stem).
    pub name: String,
    /// The engine's view of the file.
    pub parsed: Parsed,
    /// The baseline scenario (flood files only; traffic compares with its unedited network).
    pub baseline: Option<Box<ScenarioFile>>,
    /// The flood scenarios of `flooded` edits (traffic files), with their paths as
    /// [`Scenario::resolve`] gives them.
    pub flood_refs: Vec<(PathBuf, ScenarioFile)>,
    /// Every file the results depend on or the comparison needs, relative to this file's
    /// folder: CSV series and tables, the baseline and flood scenario files and their inputs.
    pub inputs: Vec<Input>,
    /// SHA-256 (hex) over the text, the CSV inputs' contents and the flood scenarios' hashes
    /// (not the baseline: it changes the comparison, not the results).
    pub hash: String,
}

#[derive(Deserialize)]
struct Head {
    model: Option<Spanned<String>>,
    baseline: Option<Spanned<String>>,
    twin: Option<toml::Value>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `base` joined with `rel`, `.` and `..` resolved lexically (no file system access).
pub fn join_lexical(base: &Path, rel: &Path) -> PathBuf {
    if rel.is_absolute() {
        return rel.to_path_buf();
    }
    let mut parts: Vec<Component> = base.components().collect();
    for c in rel.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                _ => parts.push(c),
            },
            other => parts.push(other),
        }
    }
    parts.iter().collect()
}

const MAX_DEPTH: usize = 8;

impl ScenarioFile {
    /// Reads and parses a scenario file, its baseline and the flood files its edits name; the
    /// files it names may come from its own folder and the twin folder it names (the command
    /// line's rule: [`ScenarioFile::parse`]).
    pub fn load(path: &Path) -> Result<ScenarioFile> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))?;
        ScenarioFile::parse(path, text)
    }

    /// [`ScenarioFile::load`] reading every file it names only from inside `roots` (a server:
    /// its scenario folders and the twin).
    pub fn load_in(path: &Path, roots: &AllowedRoots) -> Result<ScenarioFile> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))?;
        ScenarioFile::parse_in(path, text, roots)
    }

    /// Parses scenario text; `path` names it in errors and its folder anchors relative paths
    /// (for text posted to a server: `<base dir>/<name>.toml`, which need not exist). The files
    /// it names may come from its folder and from the twin folder its `twin` field names.
    pub fn parse(path: &Path, text: String) -> Result<ScenarioFile> {
        let base = path.parent().unwrap_or(Path::new("."));
        let mut dirs = vec![base.to_path_buf()];
        if let Ok(head) = toml::from_str::<Head>(&text) {
            dirs.extend(
                head.twin
                    .as_ref()
                    .and_then(|t| t.as_str())
                    .map(|t| base.join(t)),
            );
        }
        ScenarioFile::parse_in(path, text, &AllowedRoots::new(dirs))
    }

    /// [`ScenarioFile::parse`] reading every file it names (CSVs, the baseline, flood
    /// scenarios and theirs) only from inside `roots` ([`crate::files`]).
    pub fn parse_in(path: &Path, text: String, roots: &AllowedRoots) -> Result<ScenarioFile> {
        ScenarioFile::parse_at(path, text, 0, roots)
    }

    fn parse_at(
        path: &Path,
        text: String,
        depth: usize,
        roots: &AllowedRoots,
    ) -> Result<ScenarioFile> {
        if depth > MAX_DEPTH {
            return Err(ScenarioError::parse(
                path,
                "field `baseline`",
                format!("baselines and flood scenarios nest more than {MAX_DEPTH} deep (a cycle?)"),
            ));
        }
        let head: Head = from_toml(path, &text)?;
        let at = |v: &Spanned<String>, field: &str, msg: String| {
            ScenarioError::parse(
                path,
                format!("line {}, field `{field}`", line_of(&text, v.span().start)),
                msg,
            )
        };
        let model = match &head.model {
            None => {
                return Err(ScenarioError::parse(
                    path,
                    "line 1, field `model`",
                    "missing: say which engine runs this file with `model = \"flood\"` or `model = \"traffic\"` at the top",
                ))
            }
            Some(m) => match m.get_ref().as_str() {
                "flood" => Model::Flood,
                "traffic" => Model::Traffic,
                other => {
                    return Err(at(
                        m,
                        "model",
                        format!("unknown model {other:?}: \"flood\" or \"traffic\""),
                    ))
                }
            },
        };
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut baseline = None;
        if let Some(b) = &head.baseline {
            let written = b.get_ref().trim();
            if written.is_empty() {
                return Err(at(
                    b,
                    "baseline",
                    "empty: give a scenario file or \"none\"".into(),
                ));
            }
            if written != "none" {
                if model == Model::Traffic {
                    return Err(at(
                        b,
                        "baseline",
                        format!("{written:?}: a traffic scenario is compared with its unedited network; write baseline = \"none\""),
                    ));
                }
                let bp = base_dir.join(written);
                let btext = roots
                    .resolve(&base_dir, Path::new(written))
                    .and_then(|safe| safe.read_to_string())
                    .map_err(|r| {
                        at(
                            b,
                            "baseline",
                            format!("cannot read the baseline scenario {written}: {r}"),
                        )
                    })?;
                let bf = ScenarioFile::parse_at(&bp, btext, depth + 1, roots)?;
                if bf.model != model {
                    return Err(at(
                        b,
                        "baseline",
                        format!(
                            "{} is a {} scenario, this one is {}",
                            bp.display(),
                            bf.model,
                            model
                        ),
                    ));
                }
                baseline = Some(Box::new(bf));
            }
        }
        // CSV inputs: as written, and resolved inside the allowed folders.
        let mut own: Vec<(PathBuf, crate::files::SafePath)> = Vec::new();
        let mut flood_refs = Vec::new();
        let parsed = match model {
            Model::Flood => {
                let sc = LoadedScenario::parse_in(path, text.clone(), roots.clone())?;
                let s = &sc.scenario;
                let mut csvs: Vec<&Spanned<PathBuf>> = Vec::new();
                if let Some(r) = &s.rain {
                    csvs.extend(&r.csv);
                    for z in &r.zones {
                        csvs.extend(&z.csv);
                    }
                }
                for i in &s.inflows {
                    csvs.extend(&i.csv);
                }
                for st in &s.stages {
                    csvs.extend(&st.csv);
                }
                for c in csvs {
                    own.push((c.get_ref().clone(), sc.input(c, "csv")?));
                }
                Parsed::Flood(Box::new(sc))
            }
            Model::Traffic => {
                let sc = Scenario::parse_in(&text, path, roots.clone())?;
                match &sc.spec.demand {
                    DemandSpec::Tntp { file } | DemandSpec::Csv { file } => {
                        own.push((file.clone(), sc.input(file, "demand.file", None)?))
                    }
                    DemandSpec::Gravity { .. } => {}
                }
                for (at_off, e) in &sc.edits {
                    if let EditSpec::Flooded { file, scenario, .. } = e {
                        if let Some(f) = file {
                            own.push((f.clone(), sc.input(f, "file", Some(*at_off))?));
                        }
                        if let Some(f) = scenario {
                            let fp = sc.resolve(f);
                            let ftext = sc
                                .input(f, "scenario", Some(*at_off))?
                                .read_to_string()
                                .map_err(|r| {
                                    sc.err_at(
                                        *at_off,
                                        format!(
                                            "field `scenario`: cannot read the flood scenario {}: {r}",
                                            f.display()
                                        ),
                                    )
                                })?;
                            let ff = ScenarioFile::parse_at(&fp, ftext, depth + 1, roots)?;
                            if ff.model != Model::Flood {
                                return Err(sc.err_at(
                                    *at_off,
                                    format!(
                                        "field `scenario`: {} is a {} scenario, not a flood",
                                        fp.display(),
                                        ff.model
                                    ),
                                ));
                            }
                            flood_refs.push((fp, ff));
                        }
                    }
                }
                Parsed::Traffic(Box::new(sc))
            }
        };
        // The hash: text, CSV contents (in the order written), flood scenario hashes.
        let mut h = Sha256::new();
        h.update(model.to_string().as_bytes());
        h.update(b"\0");
        h.update(text.as_bytes());
        let mut inputs = Vec::new();
        for (w, safe) in &own {
            let bytes = safe
                .read()
                .map_err(|r| ScenarioError::parse(path, "file", format!("{}: {r}", w.display())))?;
            let p = safe.path().to_path_buf();
            h.update(b"\0input\0");
            h.update(w.to_string_lossy().as_bytes());
            h.update(b"\0");
            h.update(Sha256::digest(&bytes));
            inputs.push(Input {
                rel: join_lexical(Path::new(""), w),
                path: p,
            });
        }
        let rel_of = |other: &Path| -> PathBuf {
            // `other` was made as base_dir.join(written): take the written part back.
            other
                .strip_prefix(&base_dir)
                .map(|r| join_lexical(Path::new(""), r))
                .unwrap_or_else(|_| other.to_path_buf())
        };
        let nested = |f: &ScenarioFile, inputs: &mut Vec<Input>| {
            let r = rel_of(&f.path);
            let dir = r.parent().map(Path::to_path_buf).unwrap_or_default();
            inputs.push(Input {
                rel: r,
                path: f.path.clone(),
            });
            for i in &f.inputs {
                inputs.push(Input {
                    rel: join_lexical(&dir, &i.rel),
                    path: i.path.clone(),
                });
            }
        };
        for (_, f) in &flood_refs {
            h.update(b"\0flood\0");
            h.update(rel_of(&f.path).to_string_lossy().as_bytes());
            h.update(b"\0");
            h.update(f.hash.as_bytes());
            nested(f, &mut inputs);
        }
        if let Some(b) = &baseline {
            nested(b, &mut inputs);
        }
        let mut seen = std::collections::HashSet::new();
        inputs.retain(|i| seen.insert(i.rel.clone()));
        let name = match &parsed {
            Parsed::Flood(sc) => sc.name(),
            Parsed::Traffic(sc) => sc.name(),
        };
        Ok(ScenarioFile {
            path: path.to_path_buf(),
            text,
            model,
            name,
            parsed,
            baseline,
            flood_refs,
            inputs,
            hash: hex(&h.finalize()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_join() {
        assert_eq!(
            join_lexical(Path::new("a/b"), Path::new("../c/./d.csv")),
            PathBuf::from("a/c/d.csv")
        );
        assert_eq!(
            join_lexical(Path::new(""), Path::new("../x.csv")),
            PathBuf::from("../x.csv")
        );
        assert_eq!(
            join_lexical(Path::new(".."), Path::new("../x.csv")),
            PathBuf::from("../../x.csv")
        );
    }

    #[test]
    fn model_errors_name_line_and_field() {
        let p = Path::new("s.toml");
        let e = ScenarioFile::parse(p, "name = \"x\"\nduration_s = 1\n".into()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("s.toml: line 1, field `model`: missing"),
            "{e}"
        );
        let e = ScenarioFile::parse(p, "name = \"x\"\nmodel = \"wind\"\n".into()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("s.toml: line 2, field `model`: unknown model \"wind\""),
            "{e}"
        );
        let e = ScenarioFile::parse(
            p,
            "model = \"flood\"\nbaseline = \"nowhere.toml\"\nduration_s = 10\noutput_interval_s = 5\n"
                .into(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("s.toml: line 2, field `baseline`: cannot read the baseline scenario"),
            "{e}"
        );
        let f = ScenarioFile::parse(
            p,
            "model = \"flood\"\nbaseline = \"none\"\nduration_s = 10\noutput_interval_s = 5\n"
                .into(),
        )
        .unwrap();
        assert_eq!(f.model, Model::Flood);
        assert!(f.baseline.is_none() && f.inputs.is_empty());
        assert_eq!(f.hash.len(), 64);
    }
}
