//! Which configurations a model of the zoo can be built with ([`check_config`], written in
//! `qssm_models` next to the models, which the engine also builds from model cards); the test
//! here builds and runs every model with each field at 0 or 1 through the trainer.
pub use qssm_models::config_check::*;

#[cfg(test)]
mod tests {
    use super::super::registry::{self, zoo};
    use super::*;
    use crate::models::ModelConfig;

    fn small() -> ModelConfig {
        ModelConfig {
            n_channels: 4,
            d_model: 16,
            d_state: 4,
            n_qubits: 3,
            ..ModelConfig::eeg(20)
        }
    }

    /// Every field that made a constructor or forward pass panic is refused, for every model;
    /// whatever is accepted builds and runs a forward pass without panicking.
    #[test]
    fn zero_dimensions_are_refused_before_building() {
        use rand::SeedableRng;
        type Edit = fn(&mut ModelConfig);
        let edits: [(&str, Edit); 11] = [
            ("n_channels", |c| c.n_channels = 0),
            ("n_times", |c| c.n_times = 0),
            ("n_classes", |c| c.n_classes = 0),
            ("n_layers", |c| c.n_layers = 0),
            ("d_model", |c| c.d_model = 0),
            ("d_state", |c| c.d_state = 0),
            ("n_qubits", |c| c.n_qubits = 1),
            ("n_qubits", |c| c.n_qubits = 0),
            ("hidden_dim", |c| c.hidden_dim = 0),
            ("chunk_size", |c| c.chunk_size = 0),
            ("dropout", |c| c.dropout = 1.0),
        ];
        for m in zoo() {
            assert_eq!(check_config(m, &small()), Ok(()), "{}", m.id);
            for (field, edit) in edits {
                let mut c = small();
                edit(&mut c);
                let must_refuse = match field {
                    "d_model" | "d_state" => m.zoo_group() != Some(0),
                    "n_qubits" => m.zoo_group() != Some(3),
                    "hidden_dim" => m.zoo_group() == Some(0),
                    "chunk_size" => false,
                    _ => true,
                };
                let ran = std::panic::catch_unwind(|| match registry::build(m.id, c.clone()) {
                    Err(e) => Err(e.to_string()),
                    Ok(model) => {
                        let p = model
                            .layout()
                            .init(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
                        let x = vec![0.1f32; 2 * c.n_channels * c.n_times];
                        model.forward_eval_batch(&p, &x, 2);
                        Ok(())
                    }
                });
                match ran {
                    Err(_) => panic!("{}: {field} = 0/1 panicked instead of an error", m.id),
                    Ok(Err(e)) => assert!(e.contains(field), "{}: {e}", m.id),
                    Ok(Ok(())) => assert!(!must_refuse, "{}: {field} accepted", m.id),
                }
            }
        }
        let e = registry::build(
            "1b",
            ModelConfig {
                d_state: 0,
                ..small()
            },
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "model 1b: d_state = 0: outside 1..=16777216");
        assert!(registry::build(
            "mg",
            ModelConfig {
                d_model: 0,
                d_state: 0,
                ..small()
            }
        )
        .is_ok());
    }
}
