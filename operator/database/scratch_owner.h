#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace alembic_sidecar::database {

/**
 * Who made a scratch database. It is written on the database (COMMENT ON DATABASE, see
 * formatScratchMark) so a later run or `alembic-sidecar sweep` can prove the owner is gone:
 * the owner holds the session-level advisory lock pg_advisory_lock(lockClass, lockKey) in
 * `lockDatabase` for as long as it runs, and PostgreSQL releases it the moment that session
 * ends (the process exited, was killed with SIGKILL, or lost its connection).
 */
struct ScratchOwner {
  std::string lockDatabase;
  int32_t lockClass = 0;
  int32_t lockKey = 0;
  // For people reading `\l+`; never used to decide anything.
  std::string host;
  int64_t pid = 0;
  std::string started;  // RFC 3339, UTC

  bool operator==(const ScratchOwner&) const = default;
};

/** A scratch database as a sweep sees it. */
struct ScratchDatabase {
  std::string name;
  /**
   * The mark; nullopt when the database has none (made by a version without leases, or its
   * run died between CREATE DATABASE and COMMENT).
   */
  std::optional<ScratchOwner> owner;
  /** The owner's lock is held right now: a live run is using the database. */
  bool ownerAlive = false;
};

/**
 * The ownership of one run's scratch databases (Database::claimScratch). The lock lives in a
 * connection of its own, opened for the lease and closed with it. Destroying the lease
 * releases the lock: drop the databases first, then destroy the lease.
 */
class ScratchLease {
 public:
  virtual ~ScratchLease() = default;
  virtual const ScratchOwner& owner() const = 0;
  /**
   * Whether the lock is still held. False after the lease's connection broke: a sweep may
   * then drop the databases at any moment, so the run should stop.
   */
  virtual bool held() = 0;
};

}  // namespace alembic_sidecar::database
