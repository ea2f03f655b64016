"""Bearer tokens, client certificates and RBAC-like rules."""


class User:
    def __init__(self, name, groups=(), rules=()):
        self.name = name
        self.groups = list(groups)
        self.rules = list(rules)

    @property
    def is_admin(self):
        return "system:masters" in self.groups


def _match_list(lst, value):
    return bool(lst) and ("*" in lst or value in lst)


def _resource_matches(rule_resources, resource, sub):
    combined = f"{resource}/{sub}" if sub else resource
    for r in rule_resources or []:
        if r == "*" or r == combined:
            return True
        if sub and r == f"*/{sub}":
            return True
        if sub and r == f"{resource}/*":
            return True
    return False


class Auth:
    def __init__(self, admin_token):
        self.admin_token = admin_token
        self.tokens = {}
        self.cert_rules = {}
        self.reset(admin_token)

    def reset(self, admin_token=None):
        self.tokens = {self.admin_token: User("admin", ["system:masters", "system:authenticated"])}

    def add_token(self, token, user, groups=(), rules=()):
        self.tokens[token] = User(user, list(groups) + ["system:authenticated"], rules)

    def revoke(self, token):
        if token == self.admin_token:
            return False
        return self.tokens.pop(token, None) is not None

    def from_cert(self, peercert):
        if not peercert:
            return None
        cn, orgs = None, []
        for rdn in peercert.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    cn = v
                elif k == "organizationName":
                    orgs.append(v)
        if not cn:
            return None
        return User(cn, orgs + ["system:authenticated"], self.cert_rules.get(cn, []))

    def from_bearer(self, header):
        if not header:
            return None, False
        parts = header.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return None, True
        return self.tokens.get(parts[1].strip()), True

    @staticmethod
    def allowed(user, verb, group, resource, sub, namespace, name):
        if user.is_admin:
            return True
        for r in user.rules:
            if not _match_list(r.get("verbs"), verb):
                continue
            if not _match_list(r.get("apiGroups"), group):
                continue
            if not _resource_matches(r.get("resources"), resource, sub):
                continue
            names = r.get("resourceNames")
            if names and name not in names:
                continue
            nss = r.get("namespaces")
            if nss and namespace not in nss and "*" not in nss:
                continue
            return True
        return False
