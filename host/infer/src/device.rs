//! Which device a node runs models on: chosen by config, probed at start so a broken GPU is
//! found before the first request, not during it.

use std::str::FromStr;

use candle_core::{DType, Device, DeviceLocation, Tensor};

/// The device a node's config asks for (`cpu`, `cuda`, `cuda:N` or `auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The CPU; the default.
    #[default]
    Cpu,
    /// The CUDA device with this ordinal (`cuda` and `gpu` mean 0).
    Cuda(usize),
    /// The first CUDA device if one works, else the CPU.
    Auto,
}

/// Why a device choice could not be parsed or opened.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The text is not a device choice.
    #[error("unknown device {0:?} (expected cpu, cuda, cuda:N or auto)")]
    Unknown(String),
    /// The CUDA device could not be opened or failed its probe (or CUDA is not built in).
    #[error(
        "cuda:{ordinal} is not usable: {reason} (this build has CUDA support only with the `cuda` feature)"
    )]
    Cuda {
        /// The device's ordinal.
        ordinal: usize,
        /// candle's error.
        reason: String,
    },
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            "auto" => Ok(DeviceChoice::Auto),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| DeviceError::Unknown(other.to_owned())),
        }
    }
}

/// Runs a small matmul on `device` and checks the answer.
fn probe(device: &Device) -> candle_core::Result<()> {
    let ones = Tensor::ones((4, 4), DType::F32, device)?;
    let total = ones.matmul(&ones)?.sum_all()?.to_scalar::<f32>()?;
    if total != 64.0 {
        candle_core::bail!("probe matmul gave {total}, expected 64");
    }
    Ok(())
}

fn cuda(ordinal: usize) -> Result<Device, DeviceError> {
    let fail = |e: candle_core::Error| DeviceError::Cuda {
        ordinal,
        reason: e.to_string(),
    };
    let device = Device::new_cuda(ordinal).map_err(fail)?;
    probe(&device).map_err(fail)?;
    Ok(device)
}

/// Opens and probes the chosen device.
pub fn open(choice: DeviceChoice) -> Result<Device, DeviceError> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda(ordinal) => cuda(ordinal),
        DeviceChoice::Auto => Ok(cuda(0).unwrap_or_else(|e| {
            tracing::info!(reason = %e, "no usable GPU; models run on the CPU");
            Device::Cpu
        })),
    }
}

/// "cpu" or "cuda:N".
pub fn describe(device: &Device) -> String {
    match device.location() {
        DeviceLocation::Cpu => "cpu".into(),
        DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_choices() {
        assert_eq!("cpu".parse::<DeviceChoice>().ok(), Some(DeviceChoice::Cpu));
        assert_eq!(
            "cuda".parse::<DeviceChoice>().ok(),
            Some(DeviceChoice::Cuda(0))
        );
        assert_eq!(
            "cuda:3".parse::<DeviceChoice>().ok(),
            Some(DeviceChoice::Cuda(3))
        );
        assert_eq!(
            "auto".parse::<DeviceChoice>().ok(),
            Some(DeviceChoice::Auto)
        );
        for bad in ["", "tpu", "cuda:", "cuda:x"] {
            assert!(bad.parse::<DeviceChoice>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cpu_probes_and_auto_always_yields_a_device() {
        assert_eq!(describe(&open(DeviceChoice::Cpu).expect("cpu")), "cpu");
        let auto = open(DeviceChoice::Auto).expect("auto");
        probe(&auto).expect("auto device works");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_a_clear_error() {
        let err = open(DeviceChoice::Cuda(0)).expect_err("no cuda in this build");
        assert!(err.to_string().contains("`cuda` feature"), "{err}");
    }
}
