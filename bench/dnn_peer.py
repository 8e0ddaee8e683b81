#!/usr/bin/python3
"""PyTorch peer for bench/dnn.ts: reads the float32 matrix and labels the bench wrote; MLP 64x64 ReLU,
Adam lr 1e-3, MSE on the standardised label (as Atelier trains), or with TASK binary (0/1 labels)
binary cross-entropy on the logit (BCEWithLogitsLoss; the metric is then held-out log loss). First checks the answer (CHECK_EPOCHS
epochs on the first CHECK_ROWS training rows, held-out RMSE in label units), then times one epoch over
all NTRAIN rows from a fresh net, batch BATCH, torch.set_num_threads(THREADS). Prints one JSON line."""
import json, sys, time
import numpy as np
import torch

xpath, ypath, rows, cols, ntr, batch, threads, check_rows, check_epochs, task, shuffle = sys.argv[1:12]
shuffle = shuffle == '1' 
binary = task == 'binary' 
rows, cols, ntr, batch, threads, check_rows, check_epochs = map(int, (rows, cols, ntr, batch, threads, check_rows, check_epochs))
X = np.fromfile(xpath, dtype=np.float32).reshape(rows, cols)
y = np.fromfile(ypath, dtype=np.float32)
torch.set_num_threads(threads)
# Binary: labels are 0/1 already; the net's last Linear gives the logit (the sigmoid is in the loss).
mean, std = (0.0, 1.0) if binary else (float(y[:ntr].mean()), float(y[:ntr].std()))
loss_fn = torch.nn.functional.binary_cross_entropy_with_logits if binary else torch.nn.functional.mse_loss
Xt = torch.from_numpy(X[:ntr]); yt = torch.from_numpy((y[:ntr] - mean) / std).unsqueeze(1)
Xv = torch.from_numpy(X[ntr:]); yv = y[ntr:]

def metric(model):
    """Held-out RMSE in label units, or log loss (binary)."""
    with torch.no_grad(): out = model(Xv).numpy()[:, 0]
    if binary:
        p = np.clip(1 / (1 + np.exp(-out.astype(np.float64))), 1e-7, 1 - 1e-7)
        return float(-np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p)))
    return float(np.sqrt(np.mean((out * std + mean - yv) ** 2)))

def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(cols, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))

def epoch(model, opt, n):
    # SHUFFLE (default): each epoch takes its rows in a new random order, as Atelier's fit does
    # (a gather of random rows per batch); else contiguous slices in file order.
    if shuffle:
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i:i+batch]
            opt.zero_grad(); loss = loss_fn(model(Xt[idx]), yt[idx]); loss.backward(); opt.step()
        return
    for i in range(0, n, batch):
        opt.zero_grad(); loss = loss_fn(model(Xt[i:i+batch]), yt[i:i+batch]); loss.backward(); opt.step()

m = net(); opt = torch.optim.Adam(m.parameters(), 1e-3)
for _ in range(check_epochs): epoch(m, opt, check_rows)
check_rmse = metric(m)

m = net(); opt = torch.optim.Adam(m.parameters(), 1e-3)
epoch(m, opt, 50 * batch)  # warm-up (allocator, kernels), not timed
m = net(); opt = torch.optim.Adam(m.parameters(), 1e-3)
t = time.perf_counter(); epoch(m, opt, ntr); s = time.perf_counter() - t
rmse = metric(m)
print(json.dumps({"epoch_s": s, "rows_per_s": ntr / s, "check_rmse": check_rmse, "epoch_rmse": rmse, "version": torch.__version__, "threads": torch.get_num_threads()}))
