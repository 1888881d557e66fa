//! Fused CPU kernels for the decoder's costly steps under `backward` (training, per-example
//! gradients).
//!
//! In: f32 tensors on the CPU. Out: the same values as the plain candle ops they replace, with
//! fewer passes and buffers: `causal_softmax` is softmax(scale · s) over the last dimension with
//! keys after the query masked out (no (T, T) mask tensor, no separate scale, max, exp, sum and
//! divide passes; its backward is one pass too); `frozen_linear` is x Wᵀ for a weight that is not
//! a variable, whose backward gives x its gradient and skips the weight's (candle's matmul
//! computes both). Other devices and dtypes take the plain ops.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Result, Shape, Tensor, D};

/// softmax(scale · scores) over the last dimension, key j > query i masked out; `scores` is
/// (..., T, T). `mask` is the additive (T, T) mask the plain path uses off the CPU.
pub fn causal_softmax(scores: &Tensor, scale: f64, mask: Option<&Tensor>) -> Result<Tensor> {
    if scores.device().is_cpu() && scores.dtype() == DType::F32 {
        return scores.contiguous()?.apply_op1(CausalSoftmax { scale: scale as f32 });
    }
    let scaled = (scores * scale)?;
    let scaled = match mask {
        Some(m) => scaled.broadcast_add(m)?,
        None => scaled,
    };
    candle_nn::ops::softmax(&scaled, D::Minus1)
}

/// x Wᵀ (+ bias) for x (T, in): on the CPU with a weight that is not a variable, without the
/// weight's gradient.
pub fn frozen_linear(x: &Tensor, base: &candle_nn::Linear) -> Result<Tensor> {
    use candle_core::Module;
    let w = base.weight();
    let fast = x.device().is_cpu() && x.dtype() == DType::F32 && x.rank() == 2 && !w.is_variable();
    if !fast || base.bias().is_some_and(|b| b.is_variable()) {
        return base.forward(x);
    }
    let y = x.contiguous()?.apply_op1(FrozenLinear { w: w.clone() })?;
    match base.bias() {
        Some(b) => y.broadcast_add(b),
        None => Ok(y),
    }
}

struct CausalSoftmax {
    scale: f32,
}

/// The contiguous f32 slice of a CPU storage.
fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else { candle_core::bail!("fused op: f32 only") };
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("fused op: contiguous input only"),
    }
}

/// (rows, T): the rows of the last two dimensions, and T (square).
fn square_rows(layout: &Layout) -> Result<(usize, usize)> {
    let dims = layout.shape().dims();
    let (t, s) = match dims {
        [.., t, s] => (*t, *s),
        _ => candle_core::bail!("causal softmax: need (..., T, T)"),
    };
    if t != s {
        candle_core::bail!("causal softmax: scores of shape {dims:?} are not square");
    }
    Ok((layout.shape().elem_count() / t.max(1), t))
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = f32_slice(storage, layout)?;
        let (rows, t) = square_rows(layout)?;
        let mut dst = vec![0f32; src.len()];
        // Plain index loops: this crate may be built without optimisation.
        for r in 0..rows {
            let (base, n) = (r * t, r % t + 1);
            let mut max = f32::NEG_INFINITY;
            for j in base..base + n {
                let v = src[j] * self.scale;
                dst[j] = v;
                if v > max {
                    max = v;
                }
            }
            let mut sum = 0f32;
            for o in &mut dst[base..base + n] {
                let e = (*o - max).exp();
                *o = e;
                sum += e;
            }
            let inv = 1.0 / sum;
            for o in &mut dst[base..base + n] {
                *o *= inv;
            }
        }
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad =
            grad_res.contiguous()?.apply_op2_no_bwd(&res.contiguous()?, &CausalSoftmaxBwd { scale: self.scale })?;
        Ok(Some(grad))
    }
}

/// scale · p ⊙ (g − Σⱼ gⱼ pⱼ) per row: the gradient of the scores.
struct CausalSoftmaxBwd {
    scale: f32,
}

impl CustomOp2 for CausalSoftmaxBwd {
    fn name(&self) -> &'static str {
        "causal-softmax-bwd"
    }

    fn cpu_fwd(&self, g: &CpuStorage, gl: &Layout, p: &CpuStorage, pl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (g, p) = (f32_slice(g, gl)?, f32_slice(p, pl)?);
        let (rows, t) = square_rows(pl)?;
        let mut dst = vec![0f32; p.len()];
        for r in 0..rows {
            let (base, n) = (r * t, r % t + 1);
            let mut dot = 0f32;
            for j in base..base + n {
                dot += g[j] * p[j];
            }
            for j in base..base + n {
                dst[j] = self.scale * p[j] * (g[j] - dot);
            }
        }
        Ok((CpuStorage::F32(dst), pl.shape().clone()))
    }
}

struct FrozenLinear {
    w: Tensor,
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = Tensor::from_slice(f32_slice(storage, layout)?, layout.shape(), &Device::Cpu)?;
        let y = x.matmul(&self.w.t()?)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?), shape))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.matmul(&self.w)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    fn random(shape: &[usize], seed: u64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n: usize = shape.iter().product();
        Tensor::from_vec((0..n).map(|_| rng.random_range(-2f32..2.0)).collect::<Vec<_>>(), shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn causal_softmax_and_its_gradient_match_the_plain_ops() {
        let t = 7;
        let pos = Tensor::arange(0u32, t as u32, &Device::Cpu).unwrap();
        let mask =
            (pos.unsqueeze(0).unwrap().broadcast_gt(&pos.unsqueeze(1).unwrap()).unwrap().to_dtype(DType::F32).unwrap()
                * -1e9)
                .unwrap();
        let s = Var::from_tensor(&random(&[3, t, t], 1)).unwrap();
        let weights = random(&[3, t, t], 2);
        let plain =
            candle_nn::ops::softmax(&(s.as_tensor() * 0.25).unwrap().broadcast_add(&mask).unwrap(), D::Minus1).unwrap();
        let fused = causal_softmax(s.as_tensor(), 0.25, None).unwrap();
        assert!(max_diff(&plain, &fused) < 1e-6);
        let g_plain = (plain * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let g_fused = (fused * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let (a, b) = (g_plain.get(s.as_tensor()).unwrap(), g_fused.get(s.as_tensor()).unwrap());
        assert!(max_diff(a, b) < 1e-5, "{}", max_diff(a, b));
    }

    #[test]
    fn frozen_linear_gives_x_its_gradient_and_the_same_values() {
        let w = random(&[5, 4], 3);
        let lin = candle_nn::Linear::new(w.clone(), Some(random(&[5], 4)));
        let x = Var::from_tensor(&random(&[6, 4], 5)).unwrap();
        use candle_core::Module;
        let plain = lin.forward(x.as_tensor()).unwrap();
        let fused = frozen_linear(x.as_tensor(), &lin).unwrap();
        assert_eq!(max_diff(&plain, &fused), 0.0);
        let weights = random(&[6, 5], 6);
        let a = (plain * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let b = (fused * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(max_diff(a.get(x.as_tensor()).unwrap(), b.get(x.as_tensor()).unwrap()) < 1e-6);
        // A variable weight keeps its gradient (the scoring subset): the plain op is used.
        let wv = Var::from_tensor(&w).unwrap();
        let lin = candle_nn::Linear::new(wv.as_tensor().clone(), None);
        let g = frozen_linear(x.as_tensor(), &lin).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(g.get(wv.as_tensor()).is_some());
    }
}
