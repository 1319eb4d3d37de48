// Copyright MapiDispatch authors.
//
// fault_bench's child processes (fault_control.h): clients calling through the stub, readers
// checking every table they accept.

#include <windows.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fault_control.h"
#include "fault_harness.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/win32/process_user.h"
#include "mapidispatch/win32/simple_mapi.h"

namespace mapidispatch::evidence {
namespace {

using namespace std::chrono_literals;
using simple_mapi::MessageA;
using SendMail = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, MessageA*, ULONG, ULONG);

template <typename F>
F proc_cast(FARPROC p) {
  return reinterpret_cast<F>(reinterpret_cast<void*>(p));
}

}  // namespace

int client_main(const std::vector<std::string>& args) {
  if (args.size() != 4) return 120;
  ControlBlock cb;
  if (!cb.open(widen(args[0]))) return 121;
  Control& ctl = *cb.get();
  const int index = std::stoi(args[1]);
  if (index < 0 || index >= kMaxSlots) return 122;
  Slot& s = ctl.slots[index];
  const DWORD pace = static_cast<DWORD>(std::stoul(args[2]));
  const uint64_t max_calls = std::stoull(args[3]);
  st(s.pid, static_cast<uint32_t>(::GetCurrentProcessId()));
  HMODULE stub = ::LoadLibraryW((exe_dir() + L"\\mapi32.dll").c_str());
  if (stub == nullptr) {
    set_problem(s, "cannot load the stub: " + win_error(::GetLastError()));
    return 123;
  }
  auto send_mail = proc_cast<SendMail>(::GetProcAddress(stub, "MAPISendMail"));
  if (send_mail == nullptr) return 124;
  st(s.started, 1u);
  char subject[] = "fault_bench";
  for (uint64_t i = 0; (max_calls == 0 || i < max_calls) && ld(ctl.stop) == 0; ++i) {
    const uint32_t phase = std::min<uint32_t>(ld(ctl.phase), kPhases - 1);
    char note[8] = {};
    MessageA m{};
    m.subject = subject;
    m.note_text = note;
    const ULONG rc = send_mail(0, 0, &m, 0, 0);
    PhaseCounts& pc = s.phase[phase];
    bump(pc.attempted);
    if (rc != 0) {
      bump(pc.rc_nonzero);
      bump(s.rc_counts[std::min<ULONG>(rc, kRcBuckets - 1)]);
      st(s.last_rc, static_cast<uint32_t>(rc));
    } else if (note[0] == 'A') {
      bump(pc.acked);
      bump(pc.served_a);
    } else if (note[0] == 'B') {
      bump(pc.acked);
      bump(pc.served_b);
    } else {
      bump(pc.no_ack);
    }
    if (pace != 0) ::Sleep(pace);
  }
  return 0;
}

int reader_main(const std::vector<std::string>& args) {
  if (args.size() != 5) return 130;
  ControlBlock cb;
  if (!cb.open(widen(args[0]))) return 131;
  Control& ctl = *cb.get();
  const int index = std::stoi(args[1]);
  if (index < 0 || index >= kMaxSlots) return 132;
  Slot& s = ctl.slots[index];
  st(s.pid, static_cast<uint32_t>(::GetCurrentProcessId()));
  std::unique_ptr<ReadOnlySection> section;
  const auto deadline = Clock::now() + 30s;
  while (ReadOnlySection::open(args[2], &section)) {
    if (Clock::now() > deadline) {
      set_problem(s, "the section " + args[2] + " never appeared");
      return 133;
    }
    ::Sleep(10);
  }
  Checker checker({u16(widen(args[3])), u16(widen(args[4]))});
  const TableReader reader(section->bytes());
  const std::u16string sid = win32::process_user_sid();
  st(s.started, 1u);
  uint32_t last_seq = 0;
  while (ld(ctl.stop) == 0) {
    TableSnapshot snap;
    const TableError e = reader.read(sid, &snap);
    if (e == TableError::kOk) {
      const std::string problem = checker.check(snap);
      if (problem.empty()) {
        bump(s.reads_ok);
      } else {
        bump(s.reads_torn);
        set_problem(s, "torn read, generation " + std::to_string(snap.info.generation) + ": " + problem);
      }
      st(s.order_violations, checker.order_violations());
      if (checker.order_violations() != 0) set_problem(s, "ordering: " + checker.last_order_problem());
    } else {
      bump(s.reads_rejected[std::min<int>(static_cast<int>(e), kErrorBuckets - 1)]);
    }
    const uint32_t seq = reader.sequence();
    if (seq == last_seq) ::Sleep(1);
    last_seq = seq;
  }
  return 0;
}

}  // namespace mapidispatch::evidence
