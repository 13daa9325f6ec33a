//! `Serialize` for the core's small enums (feature `serde`): each as its command-line name,
//! the optimiser as a map of its hyper-parameters.

use crate::{Activation, Init, Optimizer};
use serde::ser::{Serialize, SerializeMap, Serializer};

impl Serialize for Activation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Serialize for Init {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Serialize for crate::schedule::Capture {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Serialize for crate::Schedule<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Optimizer {
    /// `{"name": "adam", "lr": …, "beta1": …, "beta2": …, "eps": …}` or
    /// `{"name": "sgd", "lr": …, "momentum": …}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let mut m = s.serialize_map(Some(5))?;
                m.serialize_entry("name", self.name())?;
                m.serialize_entry("lr", &lr)?;
                m.serialize_entry("beta1", &beta1)?;
                m.serialize_entry("beta2", &beta2)?;
                m.serialize_entry("eps", &eps)?;
                m.end()
            }
            Self::Sgd { lr, momentum } => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("name", self.name())?;
                m.serialize_entry("lr", &lr)?;
                m.serialize_entry("momentum", &momentum)?;
                m.end()
            }
        }
    }
}
