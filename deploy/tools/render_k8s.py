#!/usr/bin/env python3
"""Writes deploy/k8s from the Helm chart, or checks that deploy/k8s still matches it.

  render_k8s.py           render the chart and rewrite deploy/k8s/<component>.yaml etc.
  render_k8s.py --check   render and compare object by object with deploy/k8s; exit 1 on drift

The plain manifests are the chart rendered with its default values, release "parley" in
namespace "parley", and secrets.existingSecret=parley (kustomize makes that Secret from
secrets.env), then without Helm's hook annotations and with managed-by: kustomize.
Renders with `helm template` when helm is on PATH, else with tools/minihelm (built with
Debian's golang-go and sprig; see its main.go).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
CHART = os.path.join(DEPLOY, "helm", "parley")
K8S = os.path.join(DEPLOY, "k8s")
SETS = ["secrets.existingSecret=parley"]
RELEASE, NAMESPACE = "parley", "parley"
# The files the rendering is split into, by the template each document came from.
FILES = ["ingress.yaml", "router.yaml", "session.yaml", "attachments.yaml", "hpa.yaml",
         "pdb.yaml", "networkpolicy.yaml", "migrate-job.yaml"]
HEADER = """\
# Parley plain manifests: {what}.
# Rendered from deploy/helm/parley with its default values (release "parley", namespace
# "parley", secrets.existingSecret=parley) by deploy/tools/render_k8s.py; do not edit by hand:
# change the chart and re-render, or patch in a kustomize overlay.
"""
WHAT = {
    "ingress.yaml": "parley-ingress (ServiceAccount, ConfigMap, Deployment, Service)",
    "router.yaml": "parley-router (ServiceAccount, ConfigMap, Deployment, Service)",
    "session.yaml": "parley-session (ServiceAccount, ConfigMap, Deployment, Service)",
    "attachments.yaml": "parley-attachments (ServiceAccount, ConfigMap, Deployment, Service)",
    "hpa.yaml": "a HorizontalPodAutoscaler per service",
    "pdb.yaml": "a PodDisruptionBudget per service",
    "networkpolicy.yaml": "default deny, then the allowed flows of each component",
    "migrate-job.yaml": "the migration Job (`<binary> migrate` for each service); see README",
}


def render():
    helm = shutil.which("helm")
    if helm:
        cmd = [helm, "template", RELEASE, CHART, "-n", NAMESPACE]
    else:
        binary = os.path.join(tempfile.gettempdir(), "parley-minihelm")
        src = os.path.join(HERE, "minihelm")
        if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(
                os.path.join(src, "main.go")):
            env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode")
            subprocess.run(["go", "build", "-o", binary, "."], cwd=src, env=env, check=True)
        cmd = [binary, CHART, "-n", NAMESPACE, "--name", RELEASE]
    for s in SETS:
        cmd += ["--set", s]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"render_k8s: {' '.join(cmd)} failed:\n{run.stderr}")
    return run.stdout


def split(text):
    """Returns {file: [document text]} from a `helm template` stream."""
    out = {f: [] for f in FILES}
    source = None
    for doc in re.split(r"^---\s*$", text, flags=re.M):
        m = re.search(r"^# Source: [^/]+/templates/(\S+)$", doc, flags=re.M)
        if m:
            source = m.group(1)
        body = "\n".join(l for l in doc.strip("\n").split("\n")
                         if not l.startswith("# Source:")).strip("\n")
        if not body.strip():
            continue
        if source not in out:
            raise SystemExit(f"render_k8s: no file for documents of template {source}")
        out[source].append(plain(body))
    return out


def plain(doc):
    """Helm-only metadata out: hook annotations (and an annotations: left empty)."""
    lines = [l for l in doc.split("\n") if not re.match(r"^\s+helm\.sh/hook", l)]
    kept = []
    for i, l in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        indent = len(l) - len(l.lstrip())
        if l.strip() == "annotations:" and len(nxt) - len(nxt.lstrip()) <= indent:
            continue
        kept.append(l.replace("app.kubernetes.io/managed-by: Helm",
                              "app.kubernetes.io/managed-by: kustomize"))
    return "\n".join(kept)


def objects(texts):
    return {(o["kind"], o["metadata"]["name"]): o
            for t in texts for o in yaml.safe_load_all(t) if o}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args()
    files = split(render())
    if args.check:
        drift = []
        for f, docs in files.items():
            path = os.path.join(K8S, f)
            have = objects([open(path, encoding="utf-8").read()]) if os.path.exists(path) else {}
            want = objects(docs)
            for key in sorted(set(have) | set(want)):
                if have.get(key) != want.get(key):
                    drift.append(f"deploy/k8s/{f}: {key[0]}/{key[1]} differs from the chart")
        for d in drift:
            print(d)
        print(f"render_k8s --check: {'FAILED' if drift else 'ok'} ({len(drift)} differences)")
        return 1 if drift else 0
    for f, docs in files.items():
        with open(os.path.join(K8S, f), "w", encoding="utf-8") as out:
            out.write(HEADER.format(what=WHAT[f]))
            out.write("".join(f"---\n{d}\n" for d in docs))
        print(f"wrote deploy/k8s/{f} ({len(docs)} objects)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
