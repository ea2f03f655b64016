"""Which resources the server serves, and how each behaves."""
import yaml

from . import events as ev


class ResourceType:
    def __init__(self, group, versions, plural, kind, namespaced=True, status_sub=False,
                 generation=False, builtin=True, singular=None, short_names=(),
                 categories=(), list_kind=None, storage=None, convert_in=None,
                 convert_out=None):
        self.group = group
        self.versions = list(versions)          # served versions, first = preferred
        self.plural = plural
        self.kind = kind
        self.list_kind = list_kind or kind + "List"
        self.namespaced = namespaced
        self.status_sub = status_sub
        self.generation = generation
        self.builtin = builtin
        self.singular = singular or kind.lower()
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.crd = None                         # the CRD object if defined by one
        # Two resources can be views of one store (core and events.k8s.io Events): `storage`
        # is the store key, convert_in turns a body of this version into the stored form,
        # convert_out the stored form into this version's view (both without kind/apiVersion).
        self.storage = storage
        self.convert_in = convert_in or (lambda o: o)
        self.convert_out = convert_out or (lambda o: o)

    @property
    def key(self):
        return (self.group, self.plural)

    @property
    def skey(self):
        """Where the objects live in the Store."""
        return self.storage or self.key

    @property
    def qualified(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_qualified(self):
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def api_version(self, version=None):
        v = version or self.versions[0]
        return f"{self.group}/{v}" if self.group else v


def builtin_types():
    R = ResourceType
    return [
        R("", ["v1"], "pods", "Pod", status_sub=True, generation=True, short_names=["po"]),
        R("", ["v1"], "secrets", "Secret"),
        R("", ["v1"], "services", "Service", status_sub=True, short_names=["svc"]),
        R("", ["v1"], "configmaps", "ConfigMap", short_names=["cm"]),
        R("", ["v1"], "events", "Event", short_names=["ev"], convert_in=ev.normalize_core),
        R("", ["v1"], "serviceaccounts", "ServiceAccount", short_names=["sa"]),
        R("", ["v1"], "endpoints", "Endpoints", short_names=["ep"]),
        R("", ["v1"], "persistentvolumeclaims", "PersistentVolumeClaim", status_sub=True,
          short_names=["pvc"]),
        R("", ["v1"], "namespaces", "Namespace", namespaced=False, status_sub=True,
          short_names=["ns"]),
        R("events.k8s.io", ["v1"], "events", "Event", short_names=["ev"], storage=("", "events"),
          convert_in=ev.core_from_events_v1, convert_out=ev.events_v1_from_core),
        R("coordination.k8s.io", ["v1"], "leases", "Lease"),
        R("apps", ["v1"], "statefulsets", "StatefulSet", status_sub=True, generation=True,
          short_names=["sts"]),
        R("apps", ["v1"], "deployments", "Deployment", status_sub=True, generation=True,
          short_names=["deploy"]),
        R("apps", ["v1"], "replicasets", "ReplicaSet", status_sub=True, generation=True,
          short_names=["rs"]),
        R("batch", ["v1"], "jobs", "Job", status_sub=True, generation=True),
        R("rbac.authorization.k8s.io", ["v1"], "roles", "Role"),
        R("rbac.authorization.k8s.io", ["v1"], "rolebindings", "RoleBinding"),
        R("apiextensions.k8s.io", ["v1"], "customresourcedefinitions",
          "CustomResourceDefinition", namespaced=False, status_sub=True, generation=True,
          short_names=["crd", "crds"]),
        # custom resources served without a CRD file (no schema: everything preserved)
        R("alembic.sidecar.dev", ["v1alpha1"], "migrationruns", "MigrationRun",
          status_sub=True, generation=True, builtin=False, short_names=["mrun"],
          categories=["alembic"]),
        R("postgresql.cnpg.io", ["v1"], "clusters", "Cluster", status_sub=True,
          generation=True, builtin=False),
        R("postgres-operator.crunchydata.com", ["v1beta1"], "postgresclusters",
          "PostgresCluster", status_sub=True, generation=True, builtin=False),
        R("acid.zalan.do", ["v1"], "postgresqls", "postgresql", status_sub=True,
          generation=True, builtin=False, short_names=["pg"]),
    ]


class Registry:
    def __init__(self):
        self.types = {}
        for t in builtin_types():
            self.types[t.key] = t

    def lookup(self, group, version, plural):
        t = self.types.get((group, plural))
        if t is None or version not in t.versions:
            return None
        return t

    def groups(self):
        out = {}
        for t in self.types.values():
            out.setdefault(t.group, [])
            for v in t.versions:
                if v not in out[t.group]:
                    out[t.group].append(v)
        return out

    def register_crd(self, crd):
        """Serve the resource a CustomResourceDefinition describes (replacing defaults)."""
        if crd.get("kind") != "CustomResourceDefinition":
            raise ValueError("not a CustomResourceDefinition")
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group")
        plural = names.get("plural")
        kind = names.get("kind")
        if not group or not plural or not kind:
            raise ValueError("CRD needs spec.group, spec.names.plural and spec.names.kind")
        versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
        if not versions:
            raise ValueError("CRD serves no version")
        # the storage version first (it is the preferred one for discovery)
        versions.sort(key=lambda v: 0 if v.get("storage") else 1)
        status_sub = any("status" in ((v.get("subresources") or {})) for v in versions)
        t = ResourceType(group, [v["name"] for v in versions], plural, kind,
                         namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                         status_sub=status_sub, generation=True, builtin=False,
                         singular=names.get("singular"), short_names=names.get("shortNames") or [],
                         categories=names.get("categories") or [], list_kind=names.get("listKind"))
        # Served schemaless: validation, pruning and defaults are the real apiserver's (the
        # cluster suite runs the CRD there).
        t.crd = crd
        self.types[t.key] = t
        return t


def load_crd_file(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    crds = [d for d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
    if not crds:
        raise ValueError(f"{path}: no CustomResourceDefinition found")
    return crds
