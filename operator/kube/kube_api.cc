#include "kube/kube_api.h"

#include "core/redactor.h"
#include "kube/api_errors.h"
#include "kube/exec_stream.h"

namespace alembic_sidecar::kube {
namespace {

std::string segment(const std::string& text) { return core::percentEncode(text); }

}  // namespace

core::Result<std::unique_ptr<ExecConnection>> KubeApi::openExec(const ExecRequest& request) {
  return core::Error::terminal(kExecFailed, "this API client cannot hold an exec session open (pod " +
                                                request.namespace_ + "/" + request.pod + ")");
}

std::string ResourceRef::apiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceRef::path() const {
  std::string out = group.empty() ? "/api/" + segment(version)
                                  : "/apis/" + segment(group) + "/" + segment(version);
  if (!namespace_.empty()) {
    out += "/namespaces/" + segment(namespace_);
  }
  out += "/" + segment(plural);
  if (!name.empty()) {
    out += "/" + segment(name);
    if (!subresource.empty()) {
      out += "/" + segment(subresource);
    }
  }
  return out;
}

ResourceRef ResourceRef::inNamespace(std::string ns) const {
  ResourceRef copy = *this;
  copy.namespace_ = std::move(ns);
  return copy;
}

ResourceRef ResourceRef::named(std::string objectName) const {
  ResourceRef copy = *this;
  copy.name = std::move(objectName);
  return copy;
}

ResourceRef ResourceRef::withSubresource(std::string sub) const {
  ResourceRef copy = *this;
  copy.subresource = std::move(sub);
  return copy;
}

ResourceRef ResourceRef::collection() const {
  ResourceRef copy = *this;
  copy.name.clear();
  copy.subresource.clear();
  return copy;
}

std::string ResourceRef::describe() const {
  std::string out = group.empty() ? plural : plural + "." + group;
  if (!namespace_.empty()) {
    out += " " + namespace_;
  }
  if (!name.empty()) {
    out += (namespace_.empty() ? " " : "/") + name;
  }
  if (!subresource.empty()) {
    out += "/" + subresource;
  }
  return out;
}

core::Result<ObjectList> listAll(KubeApi& api, const ResourceRef& ref, ListOptions options) {
  ObjectList all;
  options.continueToken.clear();
  while (true) {
    auto page = api.list(ref, options);
    if (!page) {
      return page.error();
    }
    for (auto& item : page->items) {
      all.items.push_back(std::move(item));
    }
    // Every page carries the resourceVersion of the consistent snapshot the pages come from.
    all.resourceVersion = page->resourceVersion;
    if (page->continueToken.empty()) {
      return all;
    }
    options.continueToken = page->continueToken;
  }
}

std::string objectKey(const nlohmann::json& object) {
  const auto metadata = object.value("metadata", nlohmann::json::object());
  const std::string name = metadata.value("name", "");
  const std::string ns = metadata.value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

std::string resourceVersionOf(const nlohmann::json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return {};
  }
  auto rv = metadata->find("resourceVersion");
  return rv != metadata->end() && rv->is_string() ? rv->get<std::string>() : std::string();
}

}  // namespace alembic_sidecar::kube
