// Copyright MapiDispatch authors.

#include "win/dispatcher.h"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "change_log.h"
#include "mapidispatch/seqlock.h"
#include "mapidispatch/table_layout.h"
#include "progress.h"
#include "text.h"
#include "win/logging.h"
#include "win/registry.h"

namespace mapidispatch::service {
namespace {

HANDLE make_stop_event() { return ::CreateEventW(nullptr, TRUE, FALSE, nullptr); }

std::string params_diff(const Parameters& a, const Parameters& b) {
  std::string d;
  auto add = [&d](const char* name, const std::string& x, const std::string& y) {
    if (x == y) return;
    if (!d.empty()) d += ", ";
    d += std::string(name) + " " + x + " -> " + y;
  };
  add("DebounceMs", std::to_string(a.debounce_ms), std::to_string(b.debounce_ms));
  add("RevalidateMinutes", std::to_string(a.revalidate_minutes), std::to_string(b.revalidate_minutes));
  add("SectionName", a.section_name, b.section_name);
  add("SectionSizeKB", std::to_string(a.section_size_kb), std::to_string(b.section_size_kb));
  add("LogLevel", std::string(to_string(a.log_level)), std::string(to_string(b.log_level)));
  add("AllowUncPaths", a.allow_unc_paths ? "1" : "0", b.allow_unc_paths ? "1" : "0");
  add("DebugCrashMidPublish", std::to_string(a.debug_crash_mid_publish), std::to_string(b.debug_crash_mid_publish));
  return d.empty() ? "no value changed" : d;
}

}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, std::unique_ptr<ScopeSource> source)
    : options_(std::move(options)),
      source_(std::move(source)),
      state_(options_.service_name),
      stop_event_(io_, make_stop_event()),
      debounce_timer_(io_, [this] { on_debounce_end(); }),
      revalidate_timer_(io_, [this] { on_revalidate(); }) {}

Dispatcher::~Dispatcher() = default;

std::string Dispatcher::section_name_for(const Parameters& p) const {
  return options_.section_override ? *options_.section_override : p.section_name;
}

std::error_code Dispatcher::open_section(const Parameters& p, std::unique_ptr<WritableSection>* section,
                                         std::unique_ptr<TableWriter>* writer) {
  const std::string name = section_name_for(p);
  if (const std::error_code ec = WritableSection::create(name, p.section_size_kb * 1024u, section)) {
    events().error("cannot open the table section {}: {} ({}: {})", name,
                   ec == TableError::kWriterExists ? "another MapiDispatch service already publishes it"
                   : ec == TableError::kUntrusted  ? "it exists and is not owned and protected by SYSTEM or "
                                                     "Administrators (a squatter?); stubs will not trust it"
                                                   : "creation failed",
                   ec.value(), ec.message());
    return ec;
  }
  std::string warning;
  const uint64_t persisted = state_.load_generation(&warning);
  if (!warning.empty()) events().warn("{}", warning);
  *writer = std::make_unique<TableWriter>((*section)->bytes(), ::GetCurrentProcessId(), persisted);
  if ((*writer)->recovered_odd_count())
    events().warn("section {}: the previous writer died in the middle of a publish (generation {}); the table "
                  "is flagged stopped until the first publish completes it",
                  name, (*writer)->recovered_generation());
  log().info("section {} {} ({} bytes); generation continues from {} (section {}, persisted {})", name,
             (*section)->created() ? "created" : "reopened", (*section)->bytes().size(), (*writer)->generation(),
             (*writer)->recovered_generation(), persisted);
  return {};
}

std::error_code Dispatcher::run(const Hooks& hooks) {
  auto progress = [&hooks] {
    if (hooks.on_progress) hooks.on_progress();
  };
  std::vector<std::string> warnings;
  params_ = read_parameters(options_.service_name, &warnings, &applied_settings_);
  for (const auto& w : warnings) events().warn("{}", w);
  set_log_level(params_.log_level);
  save_applied_settings();
  section_name_ = section_name_for(params_);
  progress();

  if (const std::error_code ec = open_section(params_, &section_, &writer_)) return ec;
  progress();

  start_watches();
  progress();

  // The first resolve can be long (thousands of user scopes): a checkpoint at most every
  // kStartProgressInterval while scopes resolve, so the SCM sees it progress.
  ProgressThrottle throttle(kStartProgressInterval, [&progress](size_t done, size_t total) {
    log().debug("start-up: {} of {} scope(s) resolved", done, total);
    progress();
  });
  resolve_and_publish("start", true, [&throttle](size_t done, size_t total) { throttle.step(done, total); });
  if (hooks.on_running) hooks.on_running();
  events().info("MapiDispatch started: section {}, generation {}, {} user hive(s) watched, debounce {} ms, "
                "revalidation every {} min",
                section_name_, writer_->generation(), user_watches_.size(), params_.debounce_ms,
                params_.revalidate_minutes);

  schedule_revalidation();
  stop_event_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    shutdown();
  });
  io_.run();
  return {};
}

void Dispatcher::save_applied_settings() {
  if (const std::error_code ec = state_.save_applied_settings(applied_settings_))
    events().warn("{}", describe_failure("saving the applied settings to the State key", ec));
}

void Dispatcher::shutdown() {
  ++stats_.wakeups;
  stopping_ = true;
  state_.clear_applied_settings();  // nothing applies them now; `status` shows what the next start reads
  debounce_timer_.cancel();
  revalidate_timer_.cancel();
  for (auto& w : fixed_watches_) w->stop();
  for (auto& [sid, w] : user_watches_) {
    if (w.group) w.group->watch->stop();
    if (w.own) w.own->stop();
  }
  fixed_watches_.clear();
  user_watches_.clear();
  // Stubs must stop trusting a table that nobody keeps true any more.
  if (writer_) {
    if (const std::error_code ec = writer_->mark_stopped())
      events().error("flagging the table stopped failed: {} {}", ec.value(), ec.message());
    if (const std::error_code ec = state_.save_generation(writer_->generation()))
      events().warn("{}", describe_failure("saving the generation", ec));
  }
  const uint64_t generation = writer_ ? writer_->generation() : 0;
  writer_.reset();
  section_.reset();  // on this thread: it owns the writer lock
  events().info("MapiDispatch stopped: table flagged \"writer stopped\" at generation {}; stubs read the registry",
                generation);
  io_.stop();
}

void Dispatcher::start_watches() {
  // A machine-wide key: the machine scope depends on it, and the users whose resolves read it.
  auto changed = [this](KeyWatch& w) {
    ++stats_.wakeups;
    ++stats_.notifications;
    dirty_machine_ = true;
    on_change(w.label());
  };
  fixed_watches_.push_back(std::make_unique<KeyWatch>(io_, HKEY_LOCAL_MACHINE, kClientsMailPath, true,
                                                      "HKLM\\Software\\Clients\\Mail", changed));
  fixed_watches_.push_back(std::make_unique<KeyWatch>(io_, HKEY_LOCAL_MACHINE, kMsMapiAppsPath, true,
                                                      "HKLM\\...\\MSMapiApps", changed));
  // 32-bit processes read MSMapiApps through WOW64 registry redirection: Wow6432Node's copy.
  // Watched by its path in the 64-bit view (the KeyWatch opens every key with KEY_WOW64_64KEY).
  fixed_watches_.push_back(std::make_unique<KeyWatch>(io_, HKEY_LOCAL_MACHINE, kMsMapiAppsWow64Path, true,
                                                      "HKLM\\...\\Wow6432Node\\...\\MSMapiApps", changed));
  // Group Policy: a policy refresh that changes HKLM\SOFTWARE\Policies\MapiDispatch applies
  // without a restart, as PARAMCHANGE does. Watched from its parent while it does not exist.
  fixed_watches_.push_back(std::make_unique<KeyWatch>(io_, HKEY_LOCAL_MACHINE, wide(kPolicyKeyPath), true,
                                                      "HKLM\\SOFTWARE\\Policies\\MapiDispatch", [this](KeyWatch&) {
                                                        ++stats_.notifications;
                                                        reload_parameters("Group Policy change");
                                                      }));
  // HKEY_USERS itself: user hives loading and unloading (logon, logoff, RunAs, services).
  fixed_watches_.push_back(std::make_unique<KeyWatch>(io_, HKEY_USERS, L"", false, "HKEY_USERS", [this](KeyWatch&) {
    ++stats_.wakeups;
    ++stats_.notifications;
    rescan_users(false);
    on_change("HKEY_USERS");
  }));
  for (auto& w : fixed_watches_)
    if (const std::error_code ec = w->start())
      events().error("watch {}: {}; the periodic revalidation retries", w->label(),
                     describe_failure("RegNotifyChangeKeyValue", ec));
  rescan_users(false);
}

void Dispatcher::rescan_users(bool release_all) {
  std::vector<std::u16string> sids;
  try {
    sids = source_->user_sids();
  } catch (const std::exception& e) {
    events().error("listing the user hives failed: {}", e.what());
    return;
  }
  const std::set<std::u16string> present(sids.begin(), sids.end());
  // Hives that unloaded or loaded since the last scan: their scopes go or come (also for hives
  // whose watches a logoff released).
  for (const auto& sid : users_)
    if (present.count(sid) == 0) dirty_users_.insert(sid);
  const std::set<std::u16string> before(users_.begin(), users_.end());
  for (const auto& sid : sids)
    if (before.count(sid) == 0) dirty_users_.insert(sid);
  // Once a released hive has gone the logoff is complete: the users still logged on are
  // watched again (and the gone one too if its hive comes back).
  const bool logoff_done = std::any_of(released_users_.begin(), released_users_.end(),
                                       [&](const std::u16string& sid) { return present.count(sid) == 0; });
  if (logoff_done) {
    log().info("a released user hive has unloaded: the logoff is complete; the user hives still loaded are watched again");
    released_users_.clear();
  }
  if (release_all) {
    // A logoff: the profile service unloads the hives of users without sessions, which our open
    // keys would hold (Event ID 1530). Release them all; the unload's HKEY_USERS notification,
    // the next logon or the revalidation watch the remaining users again.
    for (auto& [sid, w] : user_watches_) released_users_.insert(sid);
    log().info("released the watches of {} user hive(s): watched again once one of them unloads, or at the "
               "next revalidation or refresh",
               user_watches_.size());
    user_watches_.clear();
  }
  // Hives gone: their watches end; a group that watched one of them is built again for its other
  // members (a group's keys stay open until it is rebuilt, and an unloaded hive's must not). The
  // members keep their own watches.
  std::set<std::shared_ptr<PresenceGroup>> broken;
  for (auto it = user_watches_.begin(); it != user_watches_.end();) {
    if (present.count(it->first)) {
      ++it;
    } else {
      log().info("user hive {} unloaded: no longer watched", utf8(it->first));
      if (it->second.group) broken.insert(it->second.group);
      if (it->second.own) it->second.own->stop();
      it = user_watches_.erase(it);
    }
  }
  std::vector<std::u16string> fresh;
  for (auto& [sid, w] : user_watches_)
    if (broken.count(w.group)) {
      fresh.push_back(sid);
      w.group.reset();
    }
  for (const auto& g : broken) g->watch->stop();
  watch_users(fresh);
  fresh.clear();
  for (const auto& sid : sids) {
    if (user_watches_.count(sid) || released_users_.count(sid)) continue;
    log().info("user hive {} loaded", utf8(sid));
    // Watched again after a logoff released it: what changed meanwhile was not notified.
    dirty_users_.insert(sid);
    fresh.push_back(sid);
  }
  watch_users(fresh);
  users_ = std::move(sids);
}

namespace {

// Users per presence group (watch_users()). A group's signal (a subkey created or deleted under
// one of its members' Software\Clients, or, for a member without one, under its deepest
// existing ancestor) re-arms every member: a few registry calls each, no resolve.
constexpr size_t kUsersPerGroup = 32;

std::wstring user_mail_path(const std::u16string& sid) { return std::wstring(as_wide(sid)) + L"\\" + kClientsMailPath; }

}  // namespace

bool Dispatcher::watch_own(const std::u16string& sid) {
  // The key's content only: its deletion is its presence group's to see.
  auto w = std::make_shared<KeyWatch>(io_, HKEY_USERS, user_mail_path(sid), true,
                                      "HKU\\" + utf8(sid) + "\\Software\\Clients\\Mail", [this, sid](KeyWatch& kw) {
                                        ++stats_.wakeups;
                                        ++stats_.notifications;
                                        dirty_users_.insert(sid);  // this user's scopes only
                                        on_change(kw.label());
                                      });
  w->set_kind(KeyWatch::Kind::kKeyOnly);
  if (const std::error_code ec = w->start()) {
    events().warn("watch {}: {}", w->label(), describe_failure("RegNotifyChangeKeyValue", ec));
    return false;
  }
  user_watches_[sid].own = std::move(w);
  return true;
}

bool Dispatcher::in_group(const std::u16string& sid, const PresenceGroup& group) const {
  const auto it = user_watches_.find(sid);
  return it != user_watches_.end() && it->second.group.get() == &group;
}

bool Dispatcher::reconcile_group(const PresenceGroup& group) {
  // Not armed: where the keys are is unknown; the revalidation arms it again.
  if (!group.watch || !group.watch->armed()) return false;
  const std::vector<std::u16string>& members = group.members;
  bool any = false;
  for (size_t i = 0; i < members.size() && i < group.watch->keys(); ++i) {
    if (!in_group(members[i], group)) continue;  // gone, or regrouped
    UserWatches& u = user_watches_.at(members[i]);
    const bool exists = group.watch->at_key(i);
    if (exists && !u.own) {
      watch_own(members[i]);  // a failure is reported; the next signal or revalidation retries
    } else if (!exists && u.own) {
      u.own->stop();
      u.own.reset();
    } else if (exists && (!u.own->armed() || u.own->key_deleted())) {
      // Deleted and created again between two signals: the watch held the old key, which
      // nothing signals any more.
      if (const std::error_code ec = u.own->start())
        events().warn("watch {}: {}", u.own->label(), describe_failure("RegNotifyChangeKeyValue", ec));
    } else {
      continue;
    }
    dirty_users_.insert(members[i]);
    any = true;
  }
  return any;
}

void Dispatcher::watch_users(const std::vector<std::u16string>& sids) {
  if (sids.empty()) return;
  size_t next = 0;
  // On a farm, users arrive a hive or two at a time (each logon's HKEY_USERS notification): they
  // join the last group while it has room, which is built again with them, rather than making a
  // group each (a thread-pool wait each; under Wine a wait thread per 63 and about 1 MB each).
  // The last group is stopped only once its successor is armed; if that fails, it stays as it
  // is and the new users get a group of their own.
  if (const std::shared_ptr<PresenceGroup> last = last_group_.lock(); last && last->watch->armed()) {
    std::vector<std::u16string> members;
    for (const auto& sid : last->members)
      if (in_group(sid, *last)) members.push_back(sid);  // not gone or regrouped
    if (members.size() < kUsersPerGroup) {
      const size_t room = std::min(kUsersPerGroup - members.size(), sids.size());
      members.insert(members.end(), sids.begin(), sids.begin() + static_cast<std::ptrdiff_t>(room));
      std::error_code ec;
      if (std::shared_ptr<PresenceGroup> g = make_group(members, &ec); !ec) {
        last->watch->stop();
        adopt_group(g);
        last_group_ = g;
        next = room;
      }
    }
  }
  for (size_t first = next; first < sids.size(); first += kUsersPerGroup) {
    const std::vector<std::u16string> members(
        sids.begin() + static_cast<std::ptrdiff_t>(first),
        sids.begin() + static_cast<std::ptrdiff_t>(std::min(sids.size(), first + kUsersPerGroup)));
    std::error_code ec;
    std::shared_ptr<PresenceGroup> g = make_group(members, &ec);
    if (!ec) {
      adopt_group(g);
      last_group_ = g;
      continue;
    }
    // One member's key may be what fails (access denied): each is watched on its own instead,
    // so the failure stays that user's; one that still fails keeps its unarmed group, which the
    // revalidation starts again.
    log().warn("watch {}: {}; its users are watched one by one", g->watch->label(),
               describe_failure("RegNotifyChangeKeyValue", ec));
    for (const auto& sid : members) {
      std::error_code alone;
      std::shared_ptr<PresenceGroup> one = make_group({sid}, &alone);
      if (alone)
        events().warn("watch {}: {}; the revalidation retries", one->watch->label(),
                      describe_failure("RegNotifyChangeKeyValue", alone));
      adopt_group(one);
    }
  }
}

std::shared_ptr<KeyWatch> Dispatcher::group_watch(const std::shared_ptr<PresenceGroup>& g) {
  std::vector<std::wstring> paths;
  for (const auto& sid : g->members) paths.push_back(user_mail_path(sid));
  const std::string label = fmt::format("HKU\\{}\\Software\\Clients\\Mail (presence; a group of {} user(s))",
                                        utf8(g->members.front()), g->members.size());
  // The callback holds the group weakly: the group owns the watch that owns the callback.
  const std::weak_ptr<PresenceGroup> weak = g;
  auto w = std::make_shared<KeyWatch>(io_, HKEY_USERS, std::move(paths), true, label, [this, weak](KeyWatch& kw) {
    // A member's key came or went, or a sibling of it did (then nobody is resolved).
    ++stats_.wakeups;
    ++stats_.notifications;
    const std::shared_ptr<PresenceGroup> group = weak.lock();
    if (!group) return;
    if (!kw.armed()) {
      // The re-arm failed (logged; the revalidation retries): where the keys are is unknown,
      // and this group is the only watch that sees a member's key go. Every member is resolved.
      for (const auto& sid : group->members)
        if (in_group(sid, *group)) dirty_users_.insert(sid);
      on_change(kw.label());
      return;
    }
    if (reconcile_group(*group)) on_change(kw.label());
  });
  w->set_kind(KeyWatch::Kind::kPresence);
  return w;
}

std::shared_ptr<Dispatcher::PresenceGroup> Dispatcher::make_group(const std::vector<std::u16string>& members,
                                                                   std::error_code* ec) {
  auto g = std::make_shared<PresenceGroup>();
  g->members = members;
  g->watch = group_watch(g);
  *ec = g->watch->start();
  return g;
}

void Dispatcher::adopt_group(const std::shared_ptr<PresenceGroup>& g) {
  for (const auto& sid : g->members) user_watches_[sid].group = g;
  // Members whose key exists get their own watch (and a resolve, if it appeared since the
  // caller last looked): every caller resolves the dirty users next.
  reconcile_group(*g);
}

void Dispatcher::on_change(const std::string& why) {
  if (stopping_) return;
  log().debug("change notified: {}", why);
  if (debounce_pending_) return;  // coalesced into the publish already scheduled
  const auto now = std::chrono::steady_clock::now();
  const auto window = std::chrono::milliseconds(params_.debounce_ms);
  if (!window_start_ || now - *window_start_ >= window) {
    // Leading edge: the first change after a quiet window is resolved and published at once, so
    // an isolated change costs the work, not the window.
    window_start_ = now;
    resolve_and_publish("registry change", false);
    return;
  }
  // Within the window of the last resolve: everything notified until its end is coalesced into
  // one resolve and publish there. The window is fixed, not restarted by later notifications: a
  // burst (an MSI install) costs one publish per window after the first, and a steady stream of
  // writes cannot postpone publishing forever.
  debounce_pending_ = true;
  // Rounded up: the end of the window, never before it.
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*window_start_ + window - now);
  if (const std::error_code ec = debounce_timer_.wait_for(left)) {
    // No timer (out of memory): this change is not left waiting for the next one.
    log().error("debounce timer: {} {}; resolving at once", ec.value(), ec.message());
    on_debounce_end();
  }
}

void Dispatcher::on_debounce_end() {
  ++stats_.wakeups;
  debounce_pending_ = false;
  window_start_ = std::chrono::steady_clock::now();
  resolve_and_publish("registry change", false);
}

void Dispatcher::resolve_and_publish(const char* reason, bool force,
                                     const std::function<void(size_t, size_t)>& on_scope_resolved) {
  if (!writer_ || stopping_) return;
  // The log line of a publish says how long resolving and publishing took (issue #12: a farm's
  // administrator sees what one change costs).
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  const auto ms_since = [](Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); };
  ++stats_.resolves;
  const bool full = force || dirty_all_ || !have_published_;
  // A full pass: every answer. An incremental one: each scope resolved again, as published and as
  // resolved now; the published answers are then updated in place, so that one user's change
  // costs no copy, comparison or description of every other scope of the farm (issue #12).
  Resolutions answers;
  struct Update {
    std::u16string sid;  // empty: the machine scope
    ScopeSource::UserScopes before, after;
  };
  std::vector<Update> updates;
  const bool wow64 = !published_.wow64_scopes.empty();
  try {
    ResolveOptions opts;
    opts.allow_unc_paths = params_.allow_unc_paths;
    opts.on_scope_resolved = on_scope_resolved;
    if (full) {
      ++stats_.full_resolves;
      answers = source_->resolve_all(opts);
    } else {
      std::string machine;
      if (dirty_machine_) {
        ScopeSource::MachineScopes m = source_->resolve_machine(opts);
        Update u;
        u.before = {published_.scopes.at(0), wow64 ? std::optional(published_.wow64_scopes[0]) : std::nullopt};
        u.after = {std::move(m.native), wow64 ? (m.wow64 ? std::move(m.wow64) : u.before.wow64) : std::nullopt};
        updates.push_back(std::move(u));
        // Users whose HKLM reads give another answer now (registry_reads.h).
        dirty_users_.insert(m.affected_users.begin(), m.affected_users.end());
        machine = fmt::format("the machine scope and {} user(s) whose HKLM reads changed ({} reads checked); ",
                              m.affected_users.size(), m.reads_done);
      }
      for (const auto& sid : dirty_users_) {
        ++stats_.user_resolves;
        Update u{sid, user_scopes_of(published_, sid), source_->resolve_user(sid, opts)};
        if (!wow64) u.after.wow64.reset();  // a table without answers for 32-bit processes stays so
        updates.push_back(std::move(u));
      }
      log().debug("resolved {}{} user scope(s) ({}) of {}", machine, dirty_users_.size(), reason,
                  published_.scopes.size());
    }
  } catch (const std::exception& e) {
    dirty_all_ = true;  // the next resolve starts from the registry, not from what failed here
    events().error("resolving ({}) failed: {}; the table keeps generation {}", reason, e.what(), writer_->generation());
    return;
  }
  dirty_all_ = false;
  dirty_machine_ = false;
  dirty_users_.clear();
  const bool changed =
      full ? force || !have_published_ || !(answers == published_)
           : std::any_of(updates.begin(), updates.end(), [](const Update& u) {
               return u.before.native != u.after.native || u.before.wow64 != u.after.wow64;
             });
  if (!changed) {
    log().debug("resolved ({}): no answer changed; generation {} stays", reason, writer_->generation());
    return;
  }
  // Puts each update's `after` (or, to take them back, `before`) into the published answers.
  const auto apply = [this, &updates](bool after) {
    for (const Update& u : updates) {
      const ScopeSource::UserScopes& s = after ? u.after : u.before;
      if (!u.sid.empty()) {
        apply_user_scopes(&published_, u.sid, s);
        continue;
      }
      published_.scopes.at(0) = *s.native;
      if (s.wow64 && !published_.wow64_scopes.empty()) published_.wow64_scopes[0] = *s.wow64;
    }
  };
  const double resolve_ms = ms_since(started);
  const Clock::time_point publish_started = Clock::now();
  if (!full) apply(true);
  const Resolutions& now = full ? answers : published_;
  if (params_.debug_crash_mid_publish != 0 && section_name_.rfind("Local\\", 0) == 0)
    crash_mid_publish(now, params_.debug_crash_mid_publish);
  const uint64_t before = writer_->generation();
  const uint64_t delta_publishes_before = writer_->delta_publishes();
  // An incremental pass that added or removed no scope tells the writer which scopes it changed:
  // it rewrites their records only (TableDelta), not the farm's thousand others.
  std::vector<std::u16string> delta_users;
  TableDelta delta;
  bool use_delta = !full;
  for (const Update& u : updates) {
    use_delta = use_delta && u.before.native.has_value() == u.after.native.has_value() &&
                u.before.wow64.has_value() == u.after.wow64.has_value();
    if (u.sid.empty()) delta.machine = true;
    else if (u.after.native || u.after.wow64) delta_users.push_back(u.sid);  // a user without a scope is not in it
  }
  delta.users = delta_users;
  // What does not fit the section is left out, flagged (table_layout.h, "Incomplete tables"):
  // the machine scope and the users that fit are published rather than nothing.
  if (const std::error_code ec =
          writer_->publish(now.scopes, now.wow64_scopes, TableOverflow::kPartial, use_delta ? &delta : nullptr)) {
    if (!full) apply(false);  // published_ stays what the table holds
    dirty_all_ = true;        // and the next resolve starts from the registry
    events().error("publish ({}) failed: {} {}; the table keeps generation {}", reason, ec.value(), ec.message(),
                   before);
    return;
  }
  ++stats_.publishes;
  const double publish_ms = ms_since(publish_started);
  // What changed for 64-bit processes, then what changed for 32-bit ones ("32-bit machine ...").
  std::vector<std::string> items;
  if (full) {
    static const Resolutions kNothing;
    const Resolutions& was = have_published_ ? published_ : kNothing;
    items = describe_changes(was.scopes, answers.scopes);
    for (auto& item : describe_changes(was.wow64_scopes, answers.wow64_scopes, "32-bit "))
      items.push_back(std::move(item));
  } else {
    std::vector<ScopeResolution> was[2], is[2];
    for (const Update& u : updates) {
      for (int v = 0; v < 2; ++v) {
        const auto& b = v == 0 ? u.before.native : u.before.wow64;
        const auto& a = v == 0 ? u.after.native : u.after.wow64;
        if (b) was[v].push_back(*b);
        if (a) is[v].push_back(*a);
      }
    }
    items = describe_changes(was[0], is[0]);
    for (auto& item : describe_changes(was[1], is[1], "32-bit ")) items.push_back(std::move(item));
  }
  const TableFit& fit = writer_->last_fit();
  const std::string incomplete =
      fit.complete() ? std::string()
                     : ", INCOMPLETE: " + describe_fit(fit) + " in the section, their processes read the registry";
  const bool rewrote = writer_->delta_publishes() > delta_publishes_before;
  if (rewrote) ++stats_.delta_publishes;
  log().info("published generation {} ({}, {} scope(s) + {} for 32-bit processes, {} bytes{}; resolved in {:.1f} ms, "
             "published in {:.1f} ms, {}): {}",
             writer_->generation(), reason, now.scopes.size(), now.wow64_scopes.size(), writer_->payload_bytes(),
             incomplete, resolve_ms, publish_ms, rewrote ? "the changed scopes' records rewritten" : "table built whole",
             join_changes(items));
  // Incomplete or complete again: one Event Log entry per transition, not one per publish.
  if (const auto e = completeness_event(table_complete_, fit, section_name_, section_->bytes().size(),
                                        params_.section_size_kb)) {
    if (e->warning) events().warn("{}", e->text);
    else events().info("{}", e->text);
  }
  table_complete_ = fit.complete();
  // A provider that a missing DLL keeps from loading is worth one Event Log warning when it
  // starts (not one per publish or per scope), and an information entry when it is fixed. The
  // set is a union over every scope: an incremental pass whose scopes name no such provider,
  // before or after, leaves it as it was, and the farm's other scopes are not looked at.
  bool unloadable_may_change = full;
  for (const Update& u : updates) {
    for (const auto* s : {&u.before.native, &u.before.wow64, &u.after.native, &u.after.wow64})
      if (s->has_value() && !unloadable_providers(std::span(&**s, 1)).empty()) unloadable_may_change = true;
  }
  if (unloadable_may_change) {
    auto unloadable = unloadable_providers(now.scopes);
    unloadable.merge(unloadable_providers(now.wow64_scopes, "32-bit "));
    const DependencyEvents dep = dependency_events(unloadable_, unloadable);
    for (const auto& w : dep.warnings) events().warn("{}", w);
    for (const auto& f : dep.fixed) events().info("{}", f);
    unloadable_ = std::move(unloadable);
  }
  if (full) published_ = std::move(answers);
  have_published_ = true;
  if (const std::error_code ec = state_.save_generation(writer_->generation()))
    events().warn("{}", describe_failure("saving the generation to the State key", ec));
}

void Dispatcher::crash_mid_publish(const Resolutions& answers, uint32_t percent) {
  // Test hook: what a crash in the middle of TableWriter::publish leaves behind: an odd count and
  // the first `percent` % of the next image's bytes, in the order publish() stores them (the
  // header words before the count, then everything after it), over the current table. Then die
  // as TerminateProcess does, before anything else (the generation is not persisted).
  log().warn("DebugCrashMidPublish: abandoning the publish of generation {} with {}% written",
             writer_->generation() + 1, percent);
  log().flush();
  std::vector<std::byte> image;
  const auto region = section_->bytes();
  if (!build_table_image(answers.scopes, writer_->generation() + 1, filetime_now(), ::GetCurrentProcessId(),
                         static_cast<uint32_t>(std::min<size_t>(region.size(), layout::kMaxTotalSize)), &image,
                         answers.wow64_scopes, TableOverflow::kPartial)) {
    auto* count = reinterpret_cast<uint32_t*>(region.data() + offsetof(layout::TableHeader, sequence));
    seqlock::write_begin(count);
    const size_t written = (image.size() * std::min<uint32_t>(percent, 100) / 100) & ~size_t{3};
    constexpr size_t kCountOffset = offsetof(layout::TableHeader, sequence);
    constexpr size_t kAfterCount = kCountOffset + 4;
    seqlock::copy_in(region.data(), image.data(), std::min(written, kCountOffset));
    if (written > kAfterCount)
      seqlock::copy_in(region.data() + kAfterCount, image.data() + kAfterCount, written - kAfterCount);
  }
  ::TerminateProcess(::GetCurrentProcess(), 0xDEAD);
}

void Dispatcher::schedule_revalidation() {
  if (const std::error_code ec = revalidate_timer_.wait_for(std::chrono::minutes(params_.revalidate_minutes)))
    events().error("the revalidation timer could not be set ({} {}): the periodic revalidation (watches that "
                   "failed to re-arm, users released) will not run", ec.value(), ec.message());
}

void Dispatcher::on_revalidate() {
  ++stats_.wakeups;
  // Watches that failed to re-arm get another chance; released users are watched again.
  // And watches blind because a key they registered on was deleted (an ancestor deleted
  // between a re-arm and the key's own deletion: nothing signals a deleted key's watchers).
  for (auto& w : fixed_watches_)
    if (!w->armed() || w->key_deleted())
      if (const std::error_code ec = w->start())
        events().error("watch {}: {}", w->label(), describe_failure("RegNotifyChangeKeyValue", ec));
  // Users' watches too (a group is one watch of several users): what changed while one was not
  // armed is covered by the full pass below.
  std::set<std::shared_ptr<KeyWatch>> unarmed;
  std::set<std::shared_ptr<PresenceGroup>> groups;
  for (const auto& [sid, w] : user_watches_) {
    if (w.group) groups.insert(w.group);
    if (w.group && (!w.group->watch->armed() || w.group->watch->key_deleted())) unarmed.insert(w.group->watch);
    if (w.own && !w.own->armed()) unarmed.insert(w.own);
  }
  for (const auto& w : unarmed)
    if (const std::error_code ec = w->start())
      events().error("watch {}: {}", w->label(), describe_failure("RegNotifyChangeKeyValue", ec));
  // And every group's members as its last arm found them: own watches for keys that appeared,
  // and own watches made blind by a key deleted and created again, armed again. The full pass
  // below resolves everyone anyway.
  for (const auto& g : groups) reconcile_group(*g);
  released_users_.clear();
  rescan_users(false);
  dirty_all_ = true;  // the safety net: everything, files and Windows Installer included
  resolve_and_publish("revalidation", false);
  schedule_revalidation();
}

void Dispatcher::reload_parameters(const char* why) {
  ++stats_.wakeups;
  if (stopping_) return;
  std::vector<std::string> warnings;
  std::vector<EffectiveSetting> settings;
  Parameters next = read_parameters(options_.service_name, &warnings, &settings);
  for (const auto& w : warnings) events().warn("{}", w);
  const Parameters prev = params_;
  events().info("parameters reread ({}): {}", why, params_diff(prev, next));
  const std::string next_section = section_name_for(next);
  if (next_section != section_name_) {
    std::unique_ptr<WritableSection> section;
    std::unique_ptr<TableWriter> writer;
    if (open_section(next, &section, &writer)) {
      events().error("keeping section {}: the new section {} could not be opened", section_name_, next_section);
      next.section_name = prev.section_name;
      next.section_size_kb = prev.section_size_kb;
      // What `status` shows as applied is what runs: the old section's settings.
      for (EffectiveSetting& s : settings)
        for (const EffectiveSetting& old : applied_settings_)
          if (s.name == old.name && (s.name == "SectionName" || s.name == "SectionSizeKB")) s = old;
    } else {
      writer_->mark_stopped();
      // The new section continues the count of the old one.
      const uint64_t generation = writer_->generation();
      writer_.reset();
      section_.reset();
      section_ = std::move(section);
      writer_ = std::make_unique<TableWriter>(section_->bytes(), ::GetCurrentProcessId(), generation);
      events().info("moved the table from section {} to {}", section_name_, next_section);
      section_name_ = next_section;
      have_published_ = false;
    }
  }
  params_ = next;
  applied_settings_ = std::move(settings);
  save_applied_settings();
  set_log_level(params_.log_level);
  if (prev.revalidate_minutes != params_.revalidate_minutes) schedule_revalidation();
  dirty_all_ = true;  // AllowUncPaths applies to every scope
  resolve_and_publish("parameters changed", !have_published_);
}

void Dispatcher::write_stats() {
  ++stats_.wakeups;
  UniqueHkey service;
  if (open_key(HKEY_LOCAL_MACHINE, service_key_path(options_.service_name), KEY_CREATE_SUB_KEY, &service)) return;
  UniqueHkey state;
  if (::RegCreateKeyExW(service.get(), L"State", 0, nullptr, REG_OPTION_NON_VOLATILE, KEY_SET_VALUE | KEY_WOW64_64KEY,
                        nullptr, state.put(), nullptr) != ERROR_SUCCESS)
    return;
  write_qword(state.get(), L"WakeUps", stats_.wakeups);
  write_qword(state.get(), L"Notifications", stats_.notifications);
  write_qword(state.get(), L"Resolves", stats_.resolves);
  write_qword(state.get(), L"Publishes", stats_.publishes);
  write_qword(state.get(), L"DeltaPublishes", stats_.delta_publishes);
  write_qword(state.get(), L"FullResolves", stats_.full_resolves);
  write_qword(state.get(), L"UserResolves", stats_.user_resolves);
  // The users' watches (one event and one thread-pool wait each): the groups, and the users' own.
  std::set<const KeyWatch*> watches;
  for (const auto& [sid, w] : user_watches_) {
    if (w.group) watches.insert(w.group->watch.get());
    if (w.own) watches.insert(w.own.get());
  }
  write_qword(state.get(), L"UserWatches", watches.size());
  // The process's CPU time so far (user + kernel), in microseconds: read here, by the process
  // itself, because Wine answers GetProcessTimes for another process with zeros.
  FILETIME created{}, exited{}, kernel{}, user{};
  if (::GetProcessTimes(::GetCurrentProcess(), &created, &exited, &kernel, &user)) {
    auto units = [](FILETIME f) { return (uint64_t{f.dwHighDateTime} << 32) | f.dwLowDateTime; };
    write_qword(state.get(), L"CpuMicroseconds", (units(kernel) + units(user)) / 10);
  }
  log().info("statistics: {} wake-ups, {} notifications, {} resolves ({} full, {} user scopes one by one), {} publishes",
             stats_.wakeups, stats_.notifications, stats_.resolves, stats_.full_resolves, stats_.user_resolves,
             stats_.publishes);
}

void Dispatcher::request_stop() { ::SetEvent(stop_event_.native_handle()); }

void Dispatcher::request_refresh() {
  boost::asio::post(io_, [this] {
    ++stats_.wakeups;
    if (stopping_) return;
    events().info("refresh requested (control {}): full re-resolve and publish", kControlRefresh);
    released_users_.clear();
    rescan_users(false);
    resolve_and_publish("refresh requested", true);
  });
}

void Dispatcher::request_reload_parameters() {
  boost::asio::post(io_, [this] { reload_parameters("PARAMCHANGE"); });
}

void Dispatcher::request_user_rescan(bool logoff) {
  boost::asio::post(io_, [this, logoff] {
    ++stats_.wakeups;
    if (stopping_) return;
    rescan_users(logoff);
    on_change(logoff ? "session logoff" : "session change");
  });
}

void Dispatcher::request_write_stats() {
  boost::asio::post(io_, [this] { write_stats(); });
}

}  // namespace mapidispatch::service
