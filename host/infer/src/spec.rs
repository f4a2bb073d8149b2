//! What a node may serve: a name → [`ModelSpec`] table, from the node config. A model's files
//! are local paths or R1FS content ids; a directory gives the standard file names.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::LoadError;

/// What kind of model a spec describes (`sentence-embedding` or `dense` in config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpecKind {
    /// A BERT-family encoder with mean pooling (sentence-transformers layout).
    SentenceEmbedding,
    /// A dense network (see [`crate::dense`]).
    Dense,
}

/// One servable model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// What the files hold, and so how they are loaded and served.
    pub kind: SpecKind,
    /// A local directory holding `config.json`, `model.safetensors` and, for text models,
    /// `tokenizer.json` (plus sentence-transformers' `sentence_bert_config.json` and
    /// `modules.json` when present).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Weights (safetensors): a path or an R1FS content id; overrides `dir`.
    #[serde(default)]
    pub weights: Option<String>,
    /// Model config (JSON): a path or an R1FS content id; overrides `dir`.
    #[serde(default)]
    pub config: Option<String>,
    /// Tokenizer (tokenizer.json): a path or an R1FS content id; overrides `dir`.
    #[serde(default)]
    pub tokenizer: Option<String>,
    /// Longest text in tokens (default: `sentence_bert_config.json`, else the model's
    /// position limit).
    #[serde(default)]
    pub max_tokens: Option<usize>,
    /// L2-normalise embeddings (default: as `modules.json` says, else yes).
    #[serde(default)]
    pub normalize: Option<bool>,
}

/// Where one file of a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRef {
    /// A local file.
    Path(PathBuf),
    /// An R1FS content id (without the `r1fs:` prefix).
    Cid(String),
}

impl std::fmt::Display for FileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileRef::Path(p) => write!(f, "{}", p.display()),
            FileRef::Cid(c) => write!(f, "r1fs:{c}"),
        }
    }
}

impl FileRef {
    /// An R1FS content id (`bafk…`, or written `r1fs:<cid>`) or else a path.
    pub fn parse(text: &str) -> Self {
        if let Some(cid) = text.strip_prefix("r1fs:") {
            return FileRef::Cid(cid.to_owned());
        }
        let looks_like_cid = text.starts_with("bafk")
            && text.len() > 40
            && text.bytes().all(|b| b.is_ascii_alphanumeric());
        if looks_like_cid {
            FileRef::Cid(text.to_owned())
        } else {
            FileRef::Path(PathBuf::from(text))
        }
    }
}

impl ModelSpec {
    /// A model in a local directory with the standard file names.
    pub fn from_dir(kind: SpecKind, dir: impl Into<PathBuf>) -> Self {
        Self {
            kind,
            dir: Some(dir.into()),
            weights: None,
            config: None,
            tokenizer: None,
            max_tokens: None,
            normalize: None,
        }
    }

    /// Where file `role` (`weights`, `config`, `tokenizer`) comes from.
    pub fn locate(&self, model: &str, role: &str) -> Result<FileRef, LoadError> {
        let (explicit, standard) = match role {
            "weights" => (&self.weights, "model.safetensors"),
            "config" => (&self.config, "config.json"),
            "tokenizer" => (&self.tokenizer, "tokenizer.json"),
            other => {
                return Err(LoadError::Spec {
                    model: model.to_owned(),
                    what: format!("no file role {other:?}"),
                });
            }
        };
        if let Some(text) = explicit {
            return Ok(FileRef::parse(text));
        }
        match &self.dir {
            Some(dir) => Ok(FileRef::Path(dir.join(standard))),
            None => Err(LoadError::Spec {
                model: model.to_owned(),
                what: format!("no {role}: set `dir` or `{role}`"),
            }),
        }
    }

    /// An optional extra file from `dir` (sentence-transformers metadata).
    pub fn extra(&self, name: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(name))
            .filter(|p| p.is_file())
    }

    /// Where the source lives, for listings.
    pub fn source(&self) -> String {
        match (&self.dir, &self.weights) {
            (_, Some(w)) => FileRef::parse(w).to_string(),
            (Some(d), None) => d.display().to_string(),
            (None, None) => "-".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_refs() {
        let cid = "bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4";
        assert_eq!(FileRef::parse(cid), FileRef::Cid(cid.into()));
        assert_eq!(
            FileRef::parse(&format!("r1fs:{cid}")),
            FileRef::Cid(cid.into())
        );
        assert_eq!(
            FileRef::parse("/models/bafk/model.safetensors"),
            FileRef::Path("/models/bafk/model.safetensors".into())
        );
    }

    #[test]
    fn explicit_files_override_the_directory() {
        let mut spec = ModelSpec::from_dir(SpecKind::Dense, "/m");
        assert_eq!(
            spec.locate("m", "weights").ok(),
            Some(FileRef::Path("/m/model.safetensors".into()))
        );
        spec.weights = Some("/elsewhere/w.safetensors".into());
        assert_eq!(
            spec.locate("m", "weights").ok(),
            Some(FileRef::Path("/elsewhere/w.safetensors".into()))
        );
        spec.dir = None;
        let err = spec.locate("m", "config").expect_err("no config");
        assert!(err.to_string().contains("set `dir` or `config`"), "{err}");
    }

    #[test]
    fn specs_parse_from_toml_and_refuse_typos() {
        let spec: ModelSpec =
            toml_like(r#"{"kind": "sentence-embedding", "dir": "/m", "max_tokens": 128}"#);
        assert_eq!(spec.kind, SpecKind::SentenceEmbedding);
        assert_eq!(spec.max_tokens, Some(128));
        assert!(serde_json::from_str::<ModelSpec>(r#"{"kind": "dense", "wieghts": "x"}"#).is_err());
    }

    fn toml_like(json: &str) -> ModelSpec {
        serde_json::from_str(json).expect("spec")
    }
}
