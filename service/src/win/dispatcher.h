// Copyright MapiDispatch authors.
//
//! \file
//! The service's engine, shared by the SCM entry point and `run --console`: one thread, one
//! Boost.Asio event loop that owns the table section, the registry watches, the debounce and
//! revalidation timers and the stop event. Nothing in it polls: the loop sleeps until a
//! registry notification, a timer, a control request or the stop event.
//!
//! Threading: run() runs the loop on the calling thread, which creates, publishes and destroys
//! the section (its writer lock belongs to that thread). The request_*() functions may be called
//! from any thread (the SCM's control handler): they never block; they signal the stop event or
//! post work to the loop.
//!
//! Publishing: a notification re-arms its watch (key_watch.h); the first notification after a
//! quiet DebounceMs window is resolved at once (leading edge), later ones within the window are
//! coalesced into one resolve at its end; a resolve publishes if any answer changed (a forced
//! refresh always publishes). A change in one user's hive re-resolves that user's scopes only
//! (ScopeSource::resolve_user); a machine-wide change re-resolves the machine scopes and the
//! users whose HKLM reads changed (ScopeSource::resolve_machine); the revalidation, a refresh and
//! new parameters re-resolve everything. One log line per publish lists what changed. The generation
//! is persisted after each publish (state_store.h).
//!
//! A table that does not fit the section is published incomplete (TableOverflow::kPartial: the
//! machine scope and the users that fit; table_layout.h, "Incomplete tables"): the publish's log
//! line says how many user scopes were left out, and the Event Log gets one warning when the
//! table becomes incomplete and one information entry when it is complete again.
//!
//! Start-up: while the first resolve runs, every scope resolved is a step of Hooks::on_progress,
//! reported at most every kStartProgressInterval (progress.h), so the SCM sees the checkpoint grow
//! during a long resolve.

#ifndef MAPIDISPATCH_SERVICE_WIN_DISPATCHER_H_
#define MAPIDISPATCH_SERVICE_WIN_DISPATCHER_H_

#include <utility>  // before Boost (Boost 1.74 with GCC 12 in C++20)

#include <windows.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/windows/object_handle.hpp>

#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "parameters.h"
#include "scope_source.h"
#include "win/event_wait.h"
#include "win/key_watch.h"
#include "win/state_store.h"

namespace mapidispatch::service {

//! The custom control code that forces a full re-resolve and publish (`sc control X 128`).
inline constexpr DWORD kControlRefresh = 128;
//! Diagnostic control code: write the loop's counters to the State key (WakeUps, Publishes,
//! Notifications, Resolves, FullResolves, UserResolves, UserWatches) and the process's CPU time
//! (CpuMicroseconds), for the benchmarks and tests.
inline constexpr DWORD kControlWriteStats = 129;
//! Releases every user-hive watch, as a SESSIONCHANGE logoff does: for an administrator whose
//! user profile cannot unload (Event ID 1530 naming this service), and for tests (Wine's SCM
//! sends no SESSIONCHANGE and ControlService cannot).
inline constexpr DWORD kControlReleaseUserHives = 130;

struct DispatcherOptions {
  std::wstring service_name;
  std::optional<std::string> section_override;  //!< --section: wins over the SectionName parameter.
};

//! Counters of the loop (read on the loop thread, or after run() returned).
struct DispatcherStats {
  uint64_t wakeups = 0;        //!< Handlers run: notifications, timers, control requests.
  uint64_t notifications = 0;  //!< Registry notifications received.
  uint64_t resolves = 0;
  uint64_t publishes = 0;
  //! Of those, publishes that rewrote only the changed scopes' records (TableDelta).
  uint64_t delta_publishes = 0;
  //! User scopes resolved one by one (ScopeSource::resolve_user): those of users whose hives
  //! changed and of users a machine-wide change reached. A full resolve counts none.
  uint64_t user_resolves = 0;
  //! Full resolves (ScopeSource::resolve_all).
  uint64_t full_resolves = 0;
};

class Dispatcher {
 public:
  struct Hooks {
    std::function<void()> on_progress;  //!< Start-up made progress (SCM checkpoint).
    std::function<void()> on_running;   //!< The first table is published (or could not be).
  };

  Dispatcher(DispatcherOptions options, std::unique_ptr<ScopeSource> source);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  //! Runs until request_stop(). Returns an error if start-up failed (no section); a clean stop
  //! returns no error. Before it returns the table is flagged "writer stopped" and the section
  //! closed.
  std::error_code run(const Hooks& hooks);

  // Thread-safe, non-blocking.
  void request_stop();
  void request_refresh();
  void request_reload_parameters();
  //! A session logged on or off (SERVICE_CONTROL_SESSIONCHANGE). `logoff`: the hives of users
  //! without sessions are about to unload, so user watches release their handles.
  void request_user_rescan(bool logoff);
  void request_write_stats();

  const DispatcherStats& stats() const { return stats_; }

 private:
  //! A presence group (watch_users()): key i of `watch` is members[i]'s Clients\Mail.
  struct PresenceGroup {
    std::vector<std::u16string> members;
    std::shared_ptr<KeyWatch> watch;
  };
  struct UserWatches {
    std::shared_ptr<PresenceGroup> group;
    std::shared_ptr<KeyWatch> own;
  };

  std::error_code open_section(const Parameters& p, std::unique_ptr<WritableSection>* section,
                               std::unique_ptr<TableWriter>* writer);
  void start_watches();
  void rescan_users(bool release_all);
  //! Watches each of `sids`, in presence groups of up to kUsersPerGroup users: one watch of the
  //! members' Software\Clients keys (or, while one does not exist, its deepest existing
  //! ancestor) for subkey names, which wakes the service when a member's Clients\Mail appears
  //! or goes (and when a sibling of it does: the group then finds every key where it was and
  //! resolves nobody; issue #12 item 3). A member whose key exists also has a watch of its own,
  //! of the key's content (reconcile_group()). Users that arrive a few at a time (logons) join
  //! the last group while it has room. Under Wine each thread-pool wait thread serves 63 waits
  //! and costs about 1 MB of working set: 1,000 hives, half without a default of their own,
  //! needed 1,505 waits and 23 such threads before groups (issue #12); about 540 and 9 now.
  void watch_users(const std::vector<std::u16string>& sids);
  //! The presence watch of group `g` (not started).
  std::shared_ptr<KeyWatch> group_watch(const std::shared_ptr<PresenceGroup>& g);
  //! A presence group of `members`, started; `*ec` says whether it armed (nothing else changes:
  //! the caller adopts it or drops it).
  std::shared_ptr<PresenceGroup> make_group(const std::vector<std::u16string>& members, std::error_code* ec);
  //! Makes `g` its members' group, and reconciles them (reconcile_group()).
  void adopt_group(const std::shared_ptr<PresenceGroup>& g);
  //! A watch of `sid`'s Clients\Mail content of its own; false (reported) if it cannot be armed.
  bool watch_own(const std::u16string& sid);
  //! After a presence group armed: each member whose key appeared gets a watch of its own, each
  //! whose key went loses it, each whose own watch is blind (its key deleted and created again
  //! in between, or not armed) is armed again; those users are marked dirty. True if any was.
  bool reconcile_group(const PresenceGroup& group);
  //! Whether `sid` is loaded and `group` is still its group (not gone, not regrouped).
  bool in_group(const std::u16string& sid, const PresenceGroup& group) const;
  void on_change(const std::string& why);
  //! The end of a debounce window with changes notified in it: one resolve and publish.
  void on_debounce_end();
  //! `on_scope_resolved`: for a full resolve, ResolveOptions::on_scope_resolved (start-up progress).
  void resolve_and_publish(const char* reason, bool force,
                           const std::function<void(size_t, size_t)>& on_scope_resolved = {});
  //! The DebugCrashMidPublish hook: writes `percent` (1 to 100) % of the next image, leaves the
  //! count odd and terminates the process.
  void crash_mid_publish(const Resolutions& answers, uint32_t percent);
  void schedule_revalidation();
  void on_revalidate();
  //! Rereads Parameters and Group Policy; `why` names the trigger for the log.
  void reload_parameters(const char* why);
  void save_applied_settings();
  void write_stats();
  void shutdown();
  std::string section_name_for(const Parameters& p) const;

  DispatcherOptions options_;
  std::unique_ptr<ScopeSource> source_;
  StateStore state_;
  Parameters params_;
  std::vector<EffectiveSetting> applied_settings_;  // params_ as text, with sources, for `status`

  boost::asio::io_context io_{1};
  boost::asio::windows::object_handle stop_event_;
  // One-shot timers: thread-pool waits with a timeout on events nobody signals (EventWait::
  // wait_for), not Asio timers, whose Windows io_context starts a thread of its own for them.
  EventWait debounce_timer_;
  EventWait revalidate_timer_;
  bool debounce_pending_ = false;
  //! When the last change-driven resolve began: notifications within DebounceMs of it are
  //! coalesced into one resolve at the window's end; the first one after it is resolved at once.
  std::optional<std::chrono::steady_clock::time_point> window_start_;
  bool stopping_ = false;

  std::string section_name_;
  std::unique_ptr<WritableSection> section_;
  std::unique_ptr<TableWriter> writer_;
  Resolutions published_;
  bool have_published_ = false;
  //! unloadable_providers() of published_ (both views): the Event Log's dependency transitions.
  std::map<std::string, std::string> unloadable_;
  //! Whether the table last published had every user scope: the Event Log's completeness
  //! transitions (one warning when it becomes incomplete, one information entry when it is again).
  bool table_complete_ = true;
  //! What the next change-driven resolve must cover: everything (a machine-wide key changed, or
  //! the last attempt failed), or only these users' scopes (their hives changed, loaded or
  //! unloaded), applied to published_. Work proportional to what changed.
  bool dirty_all_ = true;
  //! A machine-wide key changed (HKLM Clients\Mail, MSMapiApps): the machine scopes and the users
  //! whose HKLM reads changed are resolved again (ScopeSource::resolve_machine).
  bool dirty_machine_ = false;
  std::set<std::u16string> dirty_users_;

  std::vector<std::unique_ptr<KeyWatch>> fixed_watches_;
  //! Each loaded user's watches (watch_users()): its presence group's, and, while its
  //! Clients\Mail exists, its own.
  std::map<std::u16string, UserWatches> user_watches_;
  std::set<std::u16string> released_users_;  // watches dropped at a logoff, until their hive unloads
  std::weak_ptr<PresenceGroup> last_group_;   // the group watch_users() fills next
  std::vector<std::u16string> users_;

  DispatcherStats stats_;
};

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_DISPATCHER_H_
