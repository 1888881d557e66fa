//! The optimizer and its schedule, with state that can be saved and restored exactly.
//!
//! In: the trainable variables, their gradients, the step number. Out: the variables updated in
//! place by AdamW (decoupled weight decay, as PyTorch's `AdamW`), at a learning rate that rises
//! linearly over the warm-up steps and then falls linearly to zero at the last step, after the
//! gradients are clipped to a global L2 norm. The moments are plain tensors (`state`), so a
//! checkpoint holds them bit for bit.

use candle_core::{Tensor, Var};

/// AdamW's constants (PyTorch's defaults but for the weight decay, 0 as for LoRA in PEFT's recipes).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        AdamWParams { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

/// First and second moments per variable, and the number of steps taken.
pub struct AdamW {
    pub params: AdamWParams,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    pub t: u64,
}

impl AdamW {
    /// Zero moments shaped like `vars`.
    pub fn new(vars: &[&Var], params: AdamWParams) -> candle_core::Result<AdamW> {
        let m = vars.iter().map(|v| v.as_tensor().zeros_like()).collect::<candle_core::Result<Vec<_>>>()?;
        let v = m.clone();
        Ok(AdamW { params, m, v, t: 0 })
    }

    /// One update of every variable with its gradient at learning rate `lr`.
    pub fn step(&mut self, vars: &[&Var], grads: &[Tensor], lr: f64) -> candle_core::Result<()> {
        self.t += 1;
        let p = self.params;
        let bias1 = 1.0 - p.beta1.powi(self.t as i32);
        let bias2 = 1.0 - p.beta2.powi(self.t as i32);
        for (i, (var, g)) in vars.iter().zip(grads).enumerate() {
            let m = ((&self.m[i] * p.beta1)? + (g * (1.0 - p.beta1))?)?;
            let v = ((&self.v[i] * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
            let m_hat = (&m / bias1)?;
            let v_hat = (&v / bias2)?;
            let decayed = (var.as_tensor() * (1.0 - lr * p.weight_decay))?;
            let update = (m_hat / (v_hat.sqrt()? + p.eps)?)?;
            var.set(&(decayed - (update * lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }
}

/// Learning rate at step `step` (0-based) of `total`: linear warm-up over `warmup` steps (the
/// first step already at lr / warmup), then linear decay to 0 after the last step.
pub fn learning_rate(lr: f64, step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        return lr * (step + 1) as f64 / warmup as f64;
    }
    let left = total.saturating_sub(step) as f64;
    let span = total.saturating_sub(warmup).max(1) as f64;
    lr * (left / span).clamp(0.0, 1.0)
}

/// Scale `grads` so their global L2 norm is at most `max_norm` (PyTorch's `clip_grad_norm_`:
/// factor max_norm / (norm + 1e-6) when above). Returns the norm before clipping.
pub fn clip_global_norm(grads: &mut [Tensor], max_norm: f64) -> candle_core::Result<f64> {
    let mut sum = 0f64;
    for g in grads.iter() {
        sum += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
    }
    let norm = sum.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let factor = max_norm / (norm + 1e-6);
        for g in grads.iter_mut() {
            *g = (&*g * factor)?;
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        assert_eq!(learning_rate(1.0, 0, 4, 10), 0.25);
        assert_eq!(learning_rate(1.0, 3, 4, 10), 1.0);
        assert_eq!(learning_rate(1.0, 4, 4, 10), 1.0);
        assert!((learning_rate(1.0, 7, 4, 10) - 0.5).abs() < 1e-12);
        assert_eq!(learning_rate(1.0, 10, 4, 10), 0.0);
        assert_eq!(learning_rate(2.0, 0, 0, 4), 2.0);
    }

    #[test]
    fn clipping_scales_to_the_global_norm() {
        let d = Device::Cpu;
        let mut g = vec![Tensor::new(&[3f32, 0.0], &d).unwrap(), Tensor::new(&[4f32], &d).unwrap()];
        let norm = clip_global_norm(&mut g, 1.0).unwrap();
        assert!((norm - 5.0).abs() < 1e-6);
        let after = clip_global_norm(&mut g.clone(), 0.0).unwrap();
        assert!((after - 1.0).abs() < 1e-5, "{after}");
        let mut small = vec![Tensor::new(&[0.1f32], &d).unwrap()];
        clip_global_norm(&mut small, 1.0).unwrap();
        assert_eq!(small[0].to_vec1::<f32>().unwrap(), vec![0.1]);
    }

    /// One AdamW step by hand: the first step moves each weight by lr × sign(g) (bias-corrected
    /// m / √v = g / |g|), less the decay.
    #[test]
    fn first_adamw_step_moves_by_lr_times_sign() {
        let d = Device::Cpu;
        let var = Var::from_tensor(&Tensor::new(&[1f32, -2.0], &d).unwrap()).unwrap();
        let params = AdamWParams { weight_decay: 0.1, ..AdamWParams::default() };
        let mut opt = AdamW::new(&[&var], params).unwrap();
        opt.step(&[&var], &[Tensor::new(&[0.5f32, -3.0], &d).unwrap()], 0.01).unwrap();
        let got = var.as_tensor().to_vec1::<f32>().unwrap();
        let want = [1.0 * (1.0 - 0.001) - 0.01, -2.0 * (1.0 - 0.001) + 0.01];
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        assert_eq!(opt.t, 1);
    }
}
