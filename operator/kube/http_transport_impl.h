#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "kube/config.h"
#include "kube/http_transport.h"
#include "kube/tls_context.h"

namespace alembic_sidecar::kube {

/** The host part of a server URL ("https://[::1]:6443" gives "::1"). */
std::string hostOfServer(const std::string& server);

/** Builds the TLS material for `config` (CA, client identity, expected host). */
core::Result<std::shared_ptr<const TlsContext>> makeTlsContext(const ClusterConfig& config);

/** The cpprestsdk-backed transport to config.server. */
core::Result<std::shared_ptr<HttpTransport>> makeHttpTransport(
    const ClusterConfig& config, std::shared_ptr<const TlsContext> tls, std::string userAgent);

}  // namespace alembic_sidecar::kube
