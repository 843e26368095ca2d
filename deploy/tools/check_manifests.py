#!/usr/bin/env python3
"""Offline checks of Parley's Kubernetes manifests and Helm chart (no cluster, no helm).

  check_manifests.py                      check deploy/k8s and the chart's templates
  check_manifests.py --rendered FILE...   also check multi-document YAML files (e.g. a
                                          `helm template` output) with the object checks;
                   [--assume Secret/NAME]  naming objects made outside them

What it checks:
  - templates: every {{ }} action is closed; if/range/with/define blocks balance with end
    (else/else if only inside if, range or with);
  - deploy/k8s: kustomization.yaml lists every .yaml file beside it and nothing missing;
  - objects: each YAML document parses and has apiVersion, kind, metadata.name; no two
    objects share kind/name; references resolve inside the set (ConfigMaps, Secrets,
    ServiceAccounts, named ports of Services and probes, HPA/PDB targets, Service and
    NetworkPolicy selectors match some pod template); Deployments carry the security
    settings the chart promises (runAsNonRoot, readOnlyRootFilesystem, drop ALL) and a
    termination grace longer than PARLEY_SHUTDOWN_GRACE;
  - field names: when the kubernetes Python client is installed (Debian: python3-kubernetes),
    each object is round-tripped through its models and keys they do not know are reported
    (its models are of an older API, so fields newer than it, listed in NEWER_FIELDS, pass).
Exits 1 with one line per problem, 0 when everything passes.
"""
import argparse
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
CHART = os.path.join(DEPLOY, "helm", "parley")
K8S = os.path.join(DEPLOY, "k8s")

problems = []


def problem(where, what):
    problems.append(f"{where}: {what}")


# ---------------------------------------------------------------------------------- templates

ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
OPENERS = ("if", "range", "with", "define", "block")


def check_template(path):
    text = open(path, encoding="utf-8").read()
    name = os.path.relpath(path, DEPLOY)
    if text.count("{{") != text.count("}}"):
        problem(name, f"{text.count('{{')} '{{{{' but {text.count('}}')} '}}}}'")
        return
    stack = []
    for m in ACTION.finditer(text):
        body = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        if body.startswith("/*"):
            if not body.endswith("*/"):
                problem(f"{name}:{line}", "comment not closed inside its action")
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in OPENERS:
            stack.append((word, line))
        elif word == "else":
            if not stack or stack[-1][0] not in ("if", "range", "with"):
                problem(f"{name}:{line}", "else outside if/range/with")
        elif word == "end":
            if not stack:
                problem(f"{name}:{line}", "end without an open block")
            else:
                stack.pop()
    for word, line in stack:
        problem(f"{name}:{line}", f"{word} never closed with end")


# ------------------------------------------------------------------------------------ objects


def load_documents(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        problem(os.path.relpath(path), f"not YAML: {e}")
        return []


def pod_spec(obj):
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return (spec.get("template") or {}).get("spec") or {}
    return None


def pod_labels(obj):
    return ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)s", str(text))
    return int(m.group(1)) if m else None


def check_objects(objs, where, generated=()):
    """objs: list of (source, object). generated: (kind, name) made outside the set."""
    seen = {}
    names = set(generated)
    for src, o in objs:
        if not isinstance(o, dict):
            problem(src, "document is not a mapping")
            continue
        for field in ("apiVersion", "kind"):
            if not o.get(field):
                problem(src, f"object without {field}")
        name = (o.get("metadata") or {}).get("name")
        if not name:
            problem(src, f"{o.get('kind')} without metadata.name")
            continue
        key = (o.get("kind"), name)
        if key in seen:
            problem(src, f"{key[0]}/{key[1]} also defined in {seen[key]}")
        seen[key] = src
        names.add(key)

    pods = [(src, o) for src, o in objs if isinstance(o, dict) and pod_spec(o) is not None]
    configmaps = {o["metadata"]["name"]: o for _, o in objs
                  if isinstance(o, dict) and o.get("kind") == "ConfigMap"}

    for src, o in pods:
        spec = pod_spec(o)
        ident = f"{src}: {o['kind']}/{o['metadata']['name']}"
        sa = spec.get("serviceAccountName")
        if sa and ("ServiceAccount", sa) not in names:
            problem(ident, f"serviceAccountName {sa} is not defined")
        volumes = {v.get("name") for v in spec.get("volumes") or []}
        claim_templates = {(c.get("metadata") or {}).get("name")
                           for c in (o.get("spec") or {}).get("volumeClaimTemplates") or []}
        psc = spec.get("securityContext") or {}
        grace = spec.get("terminationGracePeriodSeconds")
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            cid = f"{ident} container {c.get('name')}"
            ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            for ref in c.get("envFrom") or []:
                cm = (ref.get("configMapRef") or {}).get("name")
                if cm and ("ConfigMap", cm) not in names:
                    problem(cid, f"envFrom ConfigMap {cm} is not defined")
                sec = (ref.get("secretRef") or {}).get("name")
                if sec and ("Secret", sec) not in names:
                    problem(cid, f"envFrom Secret {sec} is not defined")
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ("Secret", ref.get("name")) not in names:
                    problem(cid, f"env {e.get('name')}: Secret {ref.get('name')} is not defined")
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes | claim_templates:
                    problem(cid, f"volumeMount {m.get('name')} has no volume")
            for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = c.get(probe_name)
                if not probe:
                    continue
                for kind in ("httpGet", "tcpSocket", "grpc"):
                    port = (probe.get(kind) or {}).get("port")
                    if port is None:
                        continue
                    if kind == "grpc" and not isinstance(port, int):
                        problem(cid, f"{probe_name}: a grpc probe needs a numeric port")
                    if isinstance(port, str) and port not in ports:
                        problem(cid, f"{probe_name}: no container port named {port}")
                    if isinstance(port, int) and port not in ports.values():
                        problem(cid, f"{probe_name}: port {port} is not a container port")
            if o["kind"] in ("Deployment", "Job"):
                csc = c.get("securityContext") or {}
                if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
                    problem(cid, "runAsNonRoot is not set")
                if not csc.get("readOnlyRootFilesystem"):
                    problem(cid, "readOnlyRootFilesystem is not set")
                if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
                    problem(cid, "capabilities do not drop ALL")
                if csc.get("allowPrivilegeEscalation") is not False:
                    problem(cid, "allowPrivilegeEscalation is not false")
            if o["kind"] == "Deployment":
                for ref in c.get("envFrom") or []:
                    cm = configmaps.get((ref.get("configMapRef") or {}).get("name"))
                    shutdown = duration_seconds(((cm or {}).get("data") or {}).get(
                        "PARLEY_SHUTDOWN_GRACE", ""))
                    if shutdown is not None and (grace is None or grace <= shutdown):
                        problem(cid, f"terminationGracePeriodSeconds {grace} is not longer "
                                     f"than PARLEY_SHUTDOWN_GRACE {shutdown}s")

    def selects_some_pod(selector, namespace_wide=False):
        return any(matches(selector, pod_labels(o)) for _, o in pods)

    for src, o in objs:
        if not isinstance(o, dict):
            continue
        kind, name, spec = o.get("kind"), o["metadata"].get("name"), o.get("spec") or {}
        ident = f"{src}: {kind}/{name}"
        if kind == "Service":
            selected = [p for _, p in pods if matches(spec.get("selector"), pod_labels(p))]
            if not selected:
                problem(ident, "selector matches no pod template")
            for port in spec.get("ports") or []:
                target = port.get("targetPort")
                if isinstance(target, str) and not any(
                        target == cp.get("name")
                        for p in selected for c in pod_spec(p).get("containers") or []
                        for cp in c.get("ports") or []):
                    problem(ident, f"targetPort {target} names no container port")
        elif kind == "HorizontalPodAutoscaler":
            ref = spec.get("scaleTargetRef") or {}
            if (ref.get("kind"), ref.get("name")) not in names:
                problem(ident, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} missing")
            if (spec.get("minReplicas") or 1) > (spec.get("maxReplicas") or 0):
                problem(ident, "minReplicas > maxReplicas")
        elif kind == "PodDisruptionBudget":
            if not selects_some_pod((spec.get("selector") or {}).get("matchLabels")):
                problem(ident, "selector matches no pod template")
        elif kind == "NetworkPolicy":
            sel = (spec.get("podSelector") or {}).get("matchLabels")
            if sel is not None and not selects_some_pod(sel):
                problem(ident, "podSelector matches no pod template")
            for direction, peers_key in (("ingress", "from"), ("egress", "to")):
                for rule in spec.get(direction) or []:
                    for peer in rule.get(peers_key) or []:
                        labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
                        if ("namespaceSelector" not in peer and
                                any(k.startswith("app.kubernetes.io/") for k in labels) and
                                not selects_some_pod(labels)):
                            problem(ident, f"{direction} peer {labels} matches no pod template")
        elif kind == "Deployment":
            if not matches((spec.get("selector") or {}).get("matchLabels"), pod_labels(o)):
                problem(ident, "selector does not match its own pod template")


# ------------------------------------------------------------------------------ field names

MODELS = {
    ("v1", "ConfigMap"): "V1ConfigMap", ("v1", "Namespace"): "V1Namespace",
    ("v1", "Secret"): "V1Secret", ("v1", "Service"): "V1Service",
    ("v1", "ServiceAccount"): "V1ServiceAccount", ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "StatefulSet"): "V1StatefulSet", ("batch/v1", "Job"): "V1Job",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2HorizontalPodAutoscaler",
}
# Fields newer than some client versions' models: gRPC probes (1.24), the sleep action (1.30).
NEWER_FIELDS = (".grpc", ".sleep")


def unknown_keys(mine, known, path):
    if isinstance(mine, dict):
        out = []
        for k, v in mine.items():
            if not isinstance(known, dict) or k not in known:
                out.append(f"{path}.{k}")
            else:
                out += unknown_keys(v, known[k], f"{path}.{k}")
        return out
    if isinstance(mine, list):
        return [p for i, v in enumerate(mine)
                for p in unknown_keys(v, known[i] if isinstance(known, list) and
                                      i < len(known) else None, f"{path}[{i}]")]
    return []


def check_field_names(objs):
    """Returns False when the kubernetes client is not installed."""
    try:
        import json
        import kubernetes.client
        import kubernetes.client.models as models
    except ImportError:
        return False
    api = kubernetes.client.ApiClient()

    class Response:  # what ApiClient.deserialize reads
        def __init__(self, obj):
            self.data = json.dumps(obj)

    for src, o in objs:
        if not isinstance(o, dict):
            continue
        key = (o.get("apiVersion"), o.get("kind"))
        model = MODELS.get(key)
        if key == ("autoscaling/v2", "HorizontalPodAutoscaler") and not hasattr(models, model):
            model, o = "V2beta2HorizontalPodAutoscaler", dict(o, apiVersion="autoscaling/v2beta2")
        if model is None or not hasattr(models, model):
            continue
        back = api.sanitize_for_serialization(api.deserialize(Response(o), model))
        for path in unknown_keys(o, back, f"{o['kind']}/{o['metadata'].get('name')}"):
            if not path.endswith(NEWER_FIELDS):
                problem(src, f"unknown field {path}")
    return True


# ---------------------------------------------------------------------------------- k8s dir


def check_k8s_dir():
    kust_path = os.path.join(K8S, "kustomization.yaml")
    kust = yaml.safe_load(open(kust_path, encoding="utf-8"))
    listed = kust.get("resources") or []
    present = sorted(f for f in os.listdir(K8S)
                     if f.endswith(".yaml") and f != "kustomization.yaml")
    for f in listed:
        if not os.path.exists(os.path.join(K8S, f)):
            problem("deploy/k8s/kustomization.yaml", f"lists {f}, which does not exist")
    for f in present:
        if f not in listed:
            problem("deploy/k8s/kustomization.yaml", f"does not list {f}")
    objs = []
    for f in present:
        for d in load_documents(os.path.join(K8S, f)):
            objs.append((f"deploy/k8s/{f}", d))
            ns = (d.get("metadata") or {}).get("namespace") if isinstance(d, dict) else None
            if ns not in (None, kust.get("namespace")):
                problem(f"deploy/k8s/{f}", f"namespace {ns} differs from the kustomization's")
    generated = [("Secret", g.get("name")) for g in kust.get("secretGenerator") or []]
    generated += [("ConfigMap", g.get("name")) for g in kust.get("configMapGenerator") or []]
    check_objects(objs, "deploy/k8s", generated)
    return objs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rendered", nargs="*", default=[],
                    help="multi-document YAML files to check as one set each")
    ap.add_argument("--assume", action="append", default=[], metavar="KIND/NAME",
                    help="an object that exists outside the rendered files (e.g. Secret/parley)")
    args = ap.parse_args()
    templates = os.path.join(CHART, "templates")
    for f in sorted(os.listdir(templates)):
        check_template(os.path.join(templates, f))
    every = check_k8s_dir()
    count = len(every)
    for path in args.rendered:
        assumed = [tuple(a.split("/", 1)) for a in args.assume]
        rendered = [(path, d) for d in load_documents(path)]
        check_objects(rendered, path, assumed)
        every += rendered
    if not check_field_names(every):
        print("check_manifests: field names not checked (no kubernetes Python client; "
              "Debian: python3-kubernetes)")
    for p in problems:
        print(p)
    status = "FAILED" if problems else "ok"
    print(f"check_manifests: {count} objects in deploy/k8s, "
          f"{len(args.rendered)} rendered file(s): {status} ({len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
