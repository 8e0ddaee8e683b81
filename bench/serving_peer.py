#!/usr/bin/python3
"""Peer for bench/serving.ts: the FastAPI + uvicorn + PyTorch server of ../shared/peers/fastapi_server.py
(the same request handling, line for line), but serving *our* network: the layers, weights, input
standardization and label scaling are read from an Atelier DNN bundle, so both servers answer the
same numbers and the bench can check that before timing.

  serving_peer.py serve PORT BUNDLE_DIR      TF Serving predict on 127.0.0.1:PORT (/v1/models/housing:predict)
  serving_peer.py predict BUNDLE_DIR X.f32 ROWS
      raw predict of ROWS rows (float32, row-major, the bundle's input order) in one no_grad call;
      prints {"rows_per_s", "seconds", "head": first 5 predictions}
  serving_peer.py batch IN.csv OUT.csv TREES DEPTH
      batch prediction as pandas + XGBoost do it: an XGBoost hist model (TREES trees, depth DEPTH) is
      fitted on the first 80% of IN.csv (not timed), then read_csv + predict + to_csv of every row
      (the input columns plus `prediction`) is timed; prints {"seconds", "read_s", "predict_s", "write_s", "rmse"}
"""
import json, os, sys, time
import numpy as np, torch


def load_bundle(bundle):
    transform = json.load(open(os.path.join(bundle, "transform.json")))
    features, mean, std = [], [], []
    for f in transform["features"]:
        if f["kind"] != "numeric" or f.get("indicator") or [s["kind"] for s in f["steps"]] not in (["standardize"], []):
            raise SystemExit(f"peer: feature {f['name']} is not a plain standardized number")
        features.append(f["source"])
        step = f["steps"][0] if f["steps"] else {"mean": 0.0, "std": 1.0}
        mean.append(step["mean"]); std.append(step["std"] or 1.0)
    model = json.load(open(os.path.join(bundle, "model", "model.json")))
    blob = np.fromfile(os.path.join(bundle, "model", "weights.bin"), dtype=np.float32)
    weights, at = {}, 0
    for spec in model["weightsManifest"][0]["weights"]:
        n = int(np.prod(spec["shape"]))
        weights[spec["name"]] = blob[at:at + n].reshape(spec["shape"]); at += n
    modules = []
    for layer in model["modelTopology"]["config"]["layers"]:
        if layer["class_name"] == "Dropout":
            continue
        if layer["class_name"] != "Dense":
            raise SystemExit(f"peer: layer {layer['class_name']} not supported")
        c = layer["config"]
        k = weights[f"{c['name']}/kernel"]; b = weights[f"{c['name']}/bias"]
        lin = torch.nn.Linear(k.shape[0], k.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(k.T.copy())); lin.bias.copy_(torch.from_numpy(b.copy()))
        modules.append(lin)
        act = c["activation"]
        if act == "relu": modules.append(torch.nn.ReLU())
        elif act != "linear": raise SystemExit(f"peer: activation {act} not supported")
    target = json.load(open(os.path.join(bundle, "model", "target.json")))
    net = torch.nn.Sequential(*modules).eval()
    return features, np.array(mean, np.float32), np.array(std, np.float32), net, float(target["mean"]), float(target["std"])


mode = sys.argv[1]
torch.manual_seed(0); torch.set_num_threads(1)
if mode == "serve":
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    port, bundle = int(sys.argv[2]), sys.argv[3]
    features, mean, std, net, y_mean, y_std = load_bundle(bundle)
    app = FastAPI()

    @app.post("/v1/models/housing:predict")
    async def predict(request: Request):
        body = await request.json()
        rows = body.get("instances")
        if not isinstance(rows, list) or not rows:
            return JSONResponse({"error": "instances must be a non-empty list"}, status_code=400)
        try:
            x = np.array([[float(r[f]) for f in features] for r in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as e:
            return JSONResponse({"error": f"bad instance: {e}"}, status_code=400)
        with torch.no_grad():
            p = (net(torch.from_numpy((x - mean) / std)).squeeze(1) * y_std + y_mean).tolist()
        return {"predictions": p}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
elif mode == "predict":
    bundle, path, rows = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    features, mean, std, net, y_mean, y_std = load_bundle(bundle)
    x = np.fromfile(path, dtype=np.float32).reshape(rows, len(features))
    with torch.no_grad():
        net(torch.from_numpy((x[:1000] - mean) / std))  # warm-up
        t = time.perf_counter()
        p = net(torch.from_numpy((x - mean) / std)).squeeze(1) * y_std + y_mean
        s = time.perf_counter() - t
    print(json.dumps({"rows_per_s": rows / s, "seconds": s, "head": p[:5].tolist(), "threads": torch.get_num_threads()}))
elif mode == "batch":
    import pandas as pd, xgboost as xgb
    src, out, trees, depth = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    df = pd.read_csv(src)
    features = [c for c in df.columns if c != "y"]
    ntr = int(len(df) * 0.8)
    model = xgb.XGBRegressor(n_estimators=trees, max_depth=depth, learning_rate=0.1, tree_method="hist", n_jobs=2)
    model.fit(df[features].values[:ntr], df["y"].values[:ntr])
    del df
    t0 = time.perf_counter()
    df = pd.read_csv(src)
    t1 = time.perf_counter()
    df["prediction"] = model.predict(df[features].values)
    t2 = time.perf_counter()
    df.to_csv(out, index=False)
    t3 = time.perf_counter()
    rmse = float(np.sqrt(np.mean((df["prediction"].values - df["y"].values) ** 2)))
    os.remove(out)
    print(json.dumps({"seconds": t3 - t0, "read_s": t1 - t0, "predict_s": t2 - t1, "write_s": t3 - t2, "rmse": rmse}))
else:
    raise SystemExit(__doc__)
