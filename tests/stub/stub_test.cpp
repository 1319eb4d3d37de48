// Copyright MapiDispatch authors.
//
// The stub in real processes under Wine: this test program publishes tables, loads the built
// mapi32.dll and calls its exports by name and by ordinal; test provider DLLs record what they
// receive. Every scenario runs in a child process of its own (the stub's state is per process),
// which creates its own table section and acts as the table's writer.

#include <gtest/gtest.h>

#include <windows.h>
#include <sddl.h>

#include <cstdio>
#include <cwchar>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/test_main.h"
#include "stub_world.h"
#include "mapidispatch/seqlock.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"
#include "mapidispatch/win32/process_user.h"
#include "mapidispatch/win32/simple_mapi.h"

namespace mapidispatch {
namespace {

// ---- Scenarios (each a child process) ---------------------------------------------------------

MD_CHILD_MAIN(by_name_and_ordinal) {
  World w;
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  CHECK_EQ_U(send(w, "hello"), 0u);
  CHECK_THAT(w.last_call() == "A MAPISendMail session=0 flags=0 subject=" + hex("hello"));
  MessageA m{};
  m.subject = const_cast<LPSTR>("ord");
  CHECK_EQ_U(w.by_ordinal<SendMail>(211)(0, 0, &m, 0, 0), 0u);
  CHECK_THAT(w.last_call() == "A MAPISendMail session=0 flags=0 subject=" + hex("ord"));
  // Called decorated; the provider exports the plain form only.
  CHECK_EQ_U(w.by_name<Initialize>("MAPIInitialize@4")(nullptr), 0u);
  CHECK_THAT(w.last_call() == "A MAPIInitialize");
  // Called decorated; the provider exports the decorated form only. By name and by ordinal 75.
  void* rows = reinterpret_cast<void*>(1);
  CHECK_EQ_U(w.by_name<QueryAllRows>("HrQueryAllRows@24")(nullptr, nullptr, nullptr, nullptr, 7, &rows), 0u);
  CHECK_THAT(w.last_call() == "A HrQueryAllRows max_rows=7");
  CHECK_THAT(rows == nullptr);
  CHECK_EQ_U(w.by_ordinal<QueryAllRows>(75)(nullptr, nullptr, nullptr, nullptr, 9, &rows), 0u);
  CHECK_THAT(w.last_call() == "A HrQueryAllRows max_rows=9");
  // FILETIME in and out through a generic forwarder.
  const FILETIME sum = w.by_name<AddFt>("FtAddFt@16")(FILETIME{0xFFFFFFFFu, 1}, FILETIME{2, 3});
  CHECK_EQ_U(sum.dwLowDateTime, 1u);
  CHECK_EQ_U(sum.dwHighDateTime, 5u);
  w.by_name<Uninitialize>("MAPIUninitialize")();
  CHECK_THAT(w.last_call() == "A MAPIUninitialize");
  return g_failures;
}

MD_CHILD_MAIN(session_stays_with_its_provider) {
  World w;
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  ULONG_PTR session = 0;
  CHECK_EQ_U(w.by_name<Logon>("MAPILogon")(0, nullptr, nullptr, 0, 0, &session), 0u);
  CHECK_THAT(session != 0);
  CHECK_THAT(starts_with(w.last_call(), "A MAPILogon"));
  w.publish(machine_scope(L"prov_b", L"prov_b"));  // the default changes under an open session
  CHECK_EQ_U(send(w, "in-session", session), 0u);
  CHECK_THAT(w.last_call() == "A MAPISendMail session=" + std::to_string(session) + " flags=0 subject=" + hex("in-session"));
  CHECK_EQ_U(send(w, "session-less"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B MAPISendMail session=0"));
  CHECK_EQ_U(w.by_name<Logoff>("MAPILogoff")(session, 0, 0, 0), 0u);
  CHECK_THAT(w.last_call() == "A MAPILogoff session=" + std::to_string(session));
  CHECK_EQ_U(send(w, "after"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B MAPISendMail"));
  return g_failures;
}

MD_CHILD_MAIN(buffers_go_back_to_their_allocator) {
  World w;
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  MessageA* msg = nullptr;
  CHECK_EQ_U(w.by_name<ReadMail>("MAPIReadMail")(0, 0, const_cast<LPSTR>("id"), 0, 0, &msg), 0u);
  CHECK_THAT(msg != nullptr);
  const std::string read = w.last_call();
  CHECK_THAT(starts_with(read, "A MAPIReadMail"));
  w.publish(machine_scope(L"prov_b", L"prov_b"));
  void* ext = nullptr;
  CHECK_EQ_U(w.by_name<AllocateBuffer>("MAPIAllocateBuffer")(32, &ext), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B MAPIAllocateBuffer"));
  CHECK_EQ_U(w.by_name<FreeBuffer>("MAPIFreeBuffer")(msg), 0u);
  CHECK_THAT(starts_with(w.last_call(), "A MAPIFreeBuffer"));  // the Simple buffer, to its allocator
  CHECK_EQ_U(w.by_ordinal<FreeBuffer>(17)(ext), 0u);              // "MAPIFreeBuffer@4"
  CHECK_THAT(starts_with(w.last_call(), "B MAPIFreeBuffer"));
  return g_failures;
}

// A provider that hands out addresses still recorded (another provider's buffers, never freed
// through the stub): each record takes the new owner, and it is the only record of its address.
// Freeing the first half of the addresses leaves free first slots before records that stay, the
// case where a second record could be added beside the first. Two rounds: 600 addresses (the
// stub's 256 buckets of four slots hold them, and re-recording takes the inline path) and 1,100
// (more than the buckets hold: the overflow map, and the slow path). The memory belongs to this
// test ("again:<address>"), so neither provider frees it.
MD_CHILD_MAIN(buffers_handed_out_twice_keep_their_last_owner) {
  World w;
  auto read = w.by_name<ReadMail>("MAPIReadMail");
  auto free_buffer = w.by_name<FreeBuffer>("MAPIFreeBuffer");
  static MessageA pool[1100];
  const auto read_again = [&](MessageA* m) {
    char id[40];
    std::snprintf(id, sizeof id, "again:%llx", static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(m)));
    MessageA* got = nullptr;
    return read(0, 0, id, 0, 0, &got) == 0 && got == m;
  };
  const auto freed_by = [&](const char* who, MessageA* m) {
    char line[64];
    std::snprintf(line, sizeof line, "%s MAPIFreeBuffer buffer=%p", who, static_cast<void*>(m));
    return free_buffer(m) == 0 && w.last_call() == line;
  };
  for (const size_t n : {size_t{600}, std::size(pool)}) {
    w.publish(machine_scope(L"prov_a", L"prov_a"));
    int failed = 0;
    for (size_t i = 0; i < n; ++i) failed += !read_again(&pool[i]);
    for (size_t i = 0; i < n / 2; ++i) failed += !freed_by("A", &pool[i]);
    w.publish(machine_scope(L"prov_b", L"prov_b"));
    for (size_t i = n / 2; i < n; ++i) failed += !read_again(&pool[i]);
    // Their last owner frees them; with no record left, a second free goes where Extended MAPI
    // memory goes (B): a record left behind would send it to A.
    for (size_t i = n / 2; i < n; ++i) failed += !freed_by("B", &pool[i]);
    for (size_t i = n / 2; i < n; ++i) failed += !freed_by("B", &pool[i]);
    CHECK_EQ_U(static_cast<unsigned>(failed), 0u);
  }
  return g_failures;
}

// Sessions of two providers open at once. While one provider owns every open session and it is
// the current one, session calls take the fast path (one compare of HotState::session_procs);
// every other combination must still reach each session's own provider. The providers number
// their sessions alike (0x5001, ...), so A's first session is closed before B opens its first.
MD_CHILD_MAIN(sessions_of_two_providers) {
  World w;
  auto logon = w.by_name<Logon>("MAPILogon");
  auto logoff = w.by_name<Logoff>("MAPILogoff");
  auto read = w.by_name<ReadMail>("MAPIReadMail");
  auto free_buffer = w.by_name<FreeBuffer>("MAPIFreeBuffer");
  const auto sent = [&](const char* who, ULONG_PTR session, const char* subject) {
    return w.last_call() == std::string(who) + " MAPISendMail session=" + std::to_string(session) + " flags=0 subject=" + hex(subject);
  };
  // MAPIReadMail on `session` and MAPIFreeBuffer of what it returned: both served by `who`.
  const auto read_and_free = [&](const char* who, ULONG_PTR session) {
    MessageA* msg = nullptr;
    CHECK_EQ_U(read(session, 0, const_cast<LPSTR>("id"), 0, 0, &msg), 0u);
    CHECK_THAT(starts_with(w.last_call(), std::string(who) + " MAPIReadMail session=" + std::to_string(session)));
    CHECK_EQ_U(free_buffer(msg), 0u);
    CHECK_THAT(starts_with(w.last_call(), std::string(who) + " MAPIFreeBuffer"));
  };
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  ULONG_PTR a1 = 0, a2 = 0, b = 0;
  CHECK_EQ_U(logon(0, nullptr, nullptr, 0, 0, &a1), 0u);
  CHECK_EQ_U(logon(0, nullptr, nullptr, 0, 0, &a2), 0u);
  CHECK_EQ_U(logoff(a1, 0, 0, 0), 0u);
  CHECK_EQ_U(send(w, "a2", a2), 0u);  // A owns every session and is current
  CHECK_THAT(sent("A", a2, "a2"));
  w.publish(machine_scope(L"prov_b", L"prov_b"));
  CHECK_EQ_U(send(w, "a2 after", a2), 0u);  // A owns every session, B is current
  CHECK_THAT(sent("A", a2, "a2 after"));
  CHECK_EQ_U(logon(0, nullptr, nullptr, 0, 0, &b), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B MAPILogon"));
  CHECK_THAT(b != a2);
  // Two owners. B's entry points are looked up first, so that the fast path could serve A's
  // session from B if it were wrong about the owners.
  CHECK_EQ_U(send(w, "b mixed", b), 0u);
  CHECK_THAT(sent("B", b, "b mixed"));
  CHECK_EQ_U(send(w, "a2 mixed", a2), 0u);
  CHECK_THAT(sent("A", a2, "a2 mixed"));
  CHECK_EQ_U(send(w, "none"), 0u);
  CHECK_THAT(sent("B", 0, "none"));
  read_and_free("B", b);
  read_and_free("A", a2);
  CHECK_EQ_U(logoff(a2, 0, 0, 0), 0u);
  CHECK_THAT(w.last_call() == "A MAPILogoff session=" + std::to_string(a2));
  CHECK_EQ_U(send(w, "b alone", b), 0u);  // B owns every session and is current
  CHECK_THAT(sent("B", b, "b alone"));
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  CHECK_EQ_U(send(w, "b after", b), 0u);  // B owns every session, A is current
  CHECK_THAT(sent("B", b, "b after"));
  CHECK_EQ_U(send(w, "none again"), 0u);
  CHECK_THAT(sent("A", 0, "none again"));
  read_and_free("B", b);
  CHECK_EQ_U(logoff(b, 0, 0, 0), 0u);
  CHECK_THAT(w.last_call() == "B MAPILogoff session=" + std::to_string(b));
  CHECK_EQ_U(send(w, "b closed", b), 0u);  // no longer a session of the stub's: the current provider
  CHECK_THAT(sent("A", b, "b closed"));
  return g_failures;
}

// Buffers from several threads at once, more than the stub's fixed table of records holds
// (1,024: the rest go to its overflow map): each goes back to the provider that returned it,
// whichever thread frees it and whatever the default is by then, while other threads record
// new ones and free Extended memory.
MD_CHILD_MAIN(many_buffers_from_many_threads) {
  World w;
  auto read = w.by_name<ReadMail>("MAPIReadMail");
  auto free_buffer = w.by_name<FreeBuffer>("MAPIFreeBuffer");
  auto allocate = w.by_name<AllocateBuffer>("MAPIAllocateBuffer");
  constexpr int kThreads = 4;
  constexpr int kEach = 400;
  std::vector<std::vector<MessageA*>> a(kThreads), b(kThreads);
  std::vector<std::vector<void*>> ext(kThreads);
  std::atomic<int> failed{0};
  const auto on_threads = [&](auto body) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) threads.emplace_back(body, i);
    for (auto& t : threads) t.join();
  };
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  on_threads([&](int i) {
    for (int k = 0; k < kEach; ++k) {
      MessageA* m = nullptr;
      if (read(0, 0, const_cast<LPSTR>("id"), 0, 0, &m) != 0 || m == nullptr) ++failed;
      a[i].push_back(m);
    }
  });
  w.publish(machine_scope(L"prov_b", L"prov_b"));
  // Each thread frees another's A buffers while reading B's and freeing Extended (B) memory.
  on_threads([&](int i) {
    for (int k = 0; k < kEach; ++k) {
      if (free_buffer(a[(i + 1) % kThreads][k]) != 0) ++failed;
      MessageA* m = nullptr;
      if (read(0, 0, const_cast<LPSTR>("id"), 0, 0, &m) != 0 || m == nullptr) ++failed;
      b[i].push_back(m);
      void* e = nullptr;
      if (allocate(16, &e) != S_OK || e == nullptr) ++failed;
      ext[i].push_back(e);
      if (free_buffer(e) != 0) ++failed;
    }
  });
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  on_threads([&](int i) {
    for (MessageA* m : b[(i + 2) % kThreads])
      if (free_buffer(m) != 0) ++failed;
  });
  CHECK_EQ_U(static_cast<unsigned>(failed.load()), 0u);
  const auto line = [](const char* who, const void* p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", p);
    return std::string(who) + " MAPIFreeBuffer buffer=" + buf;
  };
  std::multiset<std::string> expected, got;
  for (int i = 0; i < kThreads; ++i) {
    for (const MessageA* m : a[i]) expected.insert(line("A", m));
    for (const MessageA* m : b[i]) expected.insert(line("B", m));
    for (const void* e : ext[i]) expected.insert(line("B", e));
  }
  for (const std::string& c : w.calls())
    if (c.find(" MAPIFreeBuffer ") != std::string::npos) got.insert(c);
  CHECK_EQ_U(got.size(), expected.size());
  CHECK_THAT(got == expected);
  return g_failures;
}

// CMC (xcmc.h) through the Simple provider: sessions and returned buffers stay with the provider
// that made them; failures use CMC's codes, not MAPI's.
MD_CHILD_MAIN(cmc_sessions_buffers_and_codes) {
  World w;
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  ULONG session = 0;
  CHECK_EQ_U(w.by_name<CmcLogon>("cmc_logon")(nullptr, nullptr, nullptr, nullptr, 0, 100, 0, &session, nullptr), 0u);
  CHECK_THAT(session != 0);
  CHECK_THAT(starts_with(w.last_call(), "A cmc_logon"));
  w.publish(machine_scope(L"prov_b", L"prov_b"));  // the default changes under an open CMC session
#if defined(_WIN64)
  const ULONG_PTR dirty = (ULONG_PTR{0xDEADBEEF} << 32) | session;
#else
  const ULONG_PTR dirty = session;  // a 32-bit register has no upper half
#endif
  CHECK_EQ_U(w.by_name<CmcSendWide>("cmc_send")(dirty, nullptr, 5, 0, nullptr), 0u);
  CHECK_THAT(w.last_call() == "A cmc_send session=" + std::to_string(session) + " flags=5");
  void* result = nullptr;
  ULONG count = 0;
  CHECK_EQ_U(w.by_name<CmcList>("cmc_list")(session, nullptr, 0, nullptr, &count, 0, &result, nullptr), 0u);
  CHECK_THAT(result != nullptr && starts_with(w.last_call(), "A cmc_list"));
  CHECK_EQ_U(w.by_name<CmcSendDocuments>("cmc_send_documents")(nullptr, const_cast<LPSTR>("d"), nullptr, 0, nullptr,
                                                                  nullptr, nullptr, 0), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B cmc_send_documents"));  // no session: the current default
  CHECK_EQ_U(w.by_name<CmcFree>("cmc_free")(result), 0u);
  CHECK_THAT(starts_with(w.last_call(), "A cmc_free"));  // back to its allocator
  CHECK_EQ_U(w.by_name<CmcLogoff>("cmc_logoff")(session, 0, 0, nullptr), 0u);
  CHECK_THAT(w.last_call() == "A cmc_logoff session=" + std::to_string(session));
  CHECK_EQ_U(w.by_name<CmcSendWide>("cmc_send")(session, nullptr, 0, 0, nullptr), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B cmc_send"));  // the session is gone: the current default
  // A provider without CMC: CMC_E_NOT_SUPPORTED (21); nothing configured: CMC_E_FAILURE (8).
  w.publish(machine_scope(L"prov_simple", nullptr));
  CHECK_EQ_U(w.by_name<CmcSendWide>("cmc_send")(0, nullptr, 0, 0, nullptr), 21u);
  CHECK_EQ_U(w.by_ordinal<CmcFree>(230)(nullptr), 21u);
  w.publish(machine_scope(nullptr, nullptr));
  CHECK_EQ_U(w.by_name<CmcSendWide>("cmc_send")(0, nullptr, 0, 0, nullptr), 8u);
  CHECK_EQ_U(w.by_name<CmcLogon>("cmc_logon")(nullptr, nullptr, nullptr, nullptr, 0, 100, 0, &session, nullptr), 8u);
  return g_failures;
}

MD_CHILD_MAIN(extended_binds_until_the_last_uninitialize) {
  World w;
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  auto init = w.by_name<Initialize>("MAPIInitialize");
  auto uninit = w.by_name<Uninitialize>("MAPIUninitialize");
  auto rows = w.by_name<QueryAllRows>("HrQueryAllRows@24");
  void* out = nullptr;
  CHECK_EQ_U(init(nullptr), 0u);
  w.publish(machine_scope(L"prov_b", L"prov_b"));
  CHECK_EQ_U(init(nullptr), 0u);  // nested: still the bound provider
  CHECK_THAT(w.last_call() == "A MAPIInitialize");
  rows(nullptr, nullptr, nullptr, nullptr, 1, &out);
  CHECK_THAT(w.last_call() == "A HrQueryAllRows max_rows=1");
  uninit();
  rows(nullptr, nullptr, nullptr, nullptr, 2, &out);
  CHECK_THAT(w.last_call() == "A HrQueryAllRows max_rows=2");  // one MAPIInitialize still open
  uninit();
  CHECK_THAT(w.last_call() == "A MAPIUninitialize");
  rows(nullptr, nullptr, nullptr, nullptr, 3, &out);
  CHECK_THAT(w.last_call() == "B HrQueryAllRows max_rows=3");  // free to follow the table
  return g_failures;
}

MD_CHILD_MAIN(wrong_bitness_is_never_loaded) {
  World w;
  ScopeResolution s = machine_scope(nullptr, nullptr);
  s.simple = found(kOtherProvider, kOtherMachine);
  s.extended = found(kOtherProvider, kOtherMachine);
  w.publish(s);
  CHECK_EQ_U(send(w, "x"), 2u);  // MAPI_E_FAILURE: a Simple MAPI code, not an HRESULT
  CHECK_EQ_U(static_cast<uint32_t>(w.by_name<Initialize>("MAPIInitialize")(nullptr)), 0x80004005u);
  CHECK_THAT(GetModuleHandleW(provider_path(kOtherProvider).c_str()) == nullptr);
  CHECK_THAT(w.calls().empty());
  CHECK_THAT(w.trace().find(kWrongBitnessTrace) != std::string::npos);
  // A table that claims this process's machine for a DLL of the other: the load fails cleanly.
  s.simple.machine = kThisMachine;
  w.publish(s);
  CHECK_EQ_U(send(w, "y"), 2u);
  CHECK_THAT(w.trace().find("LoadLibraryEx failed") != std::string::npos);
  return g_failures;
}

MD_CHILD_MAIN(missing_exports_fail_with_the_family_code) {
  World w;
  w.publish(machine_scope(L"prov_none", L"prov_none"));
  CHECK_EQ_U(send(w, "x"), 26u);  // MAPI_E_NOT_SUPPORTED
  CHECK_EQ_U(static_cast<uint32_t>(w.by_name<Initialize>("MAPIInitialize")(nullptr)), 0x80004005u);
  // MAPIAllocateBuffer with no provider that has it: the stub's own allocator serves it (a
  // provider may import it from mapi32.dll), and MAPIFreeBuffer takes the buffer back.
  void* out = nullptr;
  CHECK_EQ_U(static_cast<uint32_t>(w.by_name<AllocateBuffer>("MAPIAllocateBuffer")(8, &out)), 0u);
  CHECK_THAT(out != nullptr);
  CHECK_EQ_U(w.by_name<FreeBuffer>("MAPIFreeBuffer")(out), 0u);
  // cmc_free of such a buffer (a CMC provider that built its result through mapi32's
  // MAPIAllocateBuffer, and exports no cmc_free): freed here as well.
  CHECK_EQ_U(static_cast<uint32_t>(w.by_name<AllocateBuffer>("MAPIAllocateBuffer")(8, &out)), 0u);
  CHECK_EQ_U(w.by_name<CmcFree>("cmc_free")(out), 0u);
  CHECK_THAT(w.calls().empty());
  // A Simple-only client: Simple MAPI works, Extended MAPI fails with an HRESULT.
  w.publish(machine_scope(L"prov_simple", nullptr));
  CHECK_EQ_U(send(w, "s"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  CHECK_EQ_U(static_cast<uint32_t>(w.by_name<Initialize>("MAPIInitialize")(nullptr)), 0x80004005u);
  return g_failures;
}

// A bare file name as DLLPath: Windows' stub hands it to LoadLibrary, which finds it in the
// application's folder (here, beside the test program): served the same way, from the table and
// from the registry.
MD_CHILD_MAIN(bare_name_loads_through_the_search_order) {
  World w;
  ScopeResolution s = machine_scope(nullptr, nullptr);
  s.simple = {TargetStatus::kSearchOrder, PeMachine::kUnknown, ValueSource::kHklm, u"prov_simple.dll", u"Test Client", u"bare"};
  w.publish(s);
  CHECK_EQ_U(send(w, "bare"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  return g_failures;
}
MD_CHILD_MAIN(bare_name_from_the_registry) {
  World w;
  test::HkcuMailClient client(L"MapiDispatch Stub Bare", L"prov_simple.dll");
  SetEnvironmentVariableW(L"MAPIDISPATCH_MODE", L"registry");
  CHECK_EQ_U(send(w, "bare"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  CHECK_THAT(w.trace().find("search-order") != std::string::npos);
  if (g_failures) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}

MD_CHILD_MAIN(stopped_writer_means_registry) {
  World w;
  RegistryClient registry(L"prov_simple");
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  CHECK_EQ_U(send(w, "1"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "A MAPISendMail"));
  w.writer().mark_stopped();
  CHECK_EQ_U(send(w, "2"), 0u);  // served by what the registry says, never by the stopped table
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  CHECK_THAT(w.trace().find("via registry (table: the table's writer has stopped") != std::string::npos);
  w.publish(machine_scope(L"prov_b", L"prov_b"));  // the writer is back
  CHECK_EQ_U(send(w, "3"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B MAPISendMail"));
  return g_failures;
}

// A writer preempted between the seqlock's two increments holds the count odd for as long as it
// is off the CPU: a read that meets that is waited out, and the call gets the table's answer, not
// the registry's (which, mid-change, may be the old one or none). Only a writer that never
// finishes (it died mid-publish) sends the call to the registry, after a bounded wait, and that
// answer then stands without another wait until it is retried (binding.cpp, kFallbackRetryMs).
MD_CHILD_MAIN(write_in_progress_is_waited_out) {
  World w;
  RegistryClient registry(L"prov_simple");  // the registry's answer: S
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  CHECK_EQ_U(send(w, "1"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "A MAPISendMail"));
  auto* count = reinterpret_cast<uint32_t*>(w.table_bytes().data() + offsetof(layout::TableHeader, sequence));
  // A write that takes 60 ms (its thread descheduled): far beyond the reader's spins.
  uint32_t odd = seqlock::write_begin(count);
  std::thread writer([&] {
    Sleep(60);
    seqlock::write_end(count, odd);
  });
  CHECK_EQ_U(send(w, "2"), 0u);
  writer.join();
  CHECK_THAT(starts_with(w.last_call(), "A MAPISendMail"));
  CHECK_THAT(w.trace().find("via table generation 1, after waiting ") != std::string::npos);
  // A write that never ends: the registry, once, after the bounded wait.
  odd = seqlock::write_begin(count);
  size_t at = w.trace().size();
  CHECK_EQ_U(send(w, "3"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  const std::string t = w.trace();
  CHECK_THAT(t.find("via registry (table: the table was being written on every attempt, after waiting ", at) !=
             std::string::npos);
  at = t.size();
  CHECK_EQ_U(send(w, "4"), 0u);  // the registry's answer stands: no second wait, no rebind
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  CHECK_THAT(w.trace().find("bind simple", at) == std::string::npos);
  seqlock::write_end(count, odd);
  w.publish(machine_scope(L"prov_b", L"prov_b"));  // the service, restarted, completes the table
  CHECK_EQ_U(send(w, "5"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B MAPISendMail"));
  if (g_failures != 0) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}

// Never worse than the Windows stub when files change behind the table: a provider already loaded
// keeps serving after its file is gone; a table that says "missing" about a file that is there now
// (the service has not revalidated yet) is checked against the registry and the file system here.
MD_CHILD_MAIN(files_that_change_behind_the_table) {
  World w;
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  CHECK_EQ_U(send(w, "1"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "A MAPISendMail"));
  ScopeResolution gone = machine_scope(L"prov_a", L"prov_a");
  gone.simple.status = TargetStatus::kMissing;  // what the service publishes once the file is gone
  w.publish(gone);
  CHECK_EQ_U(send(w, "2"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "A MAPISendMail"));
  CHECK_THAT(w.trace().find("already loaded in this process: keeps using it") != std::string::npos);
  // Where the registry has nothing usable either (the user's default names a file that does not
  // exist), the table's answer stands: the Simple MAPI failure.
  RegistryClient registry(L"prov_nowhere");
  ScopeResolution none = machine_scope(L"prov_b", L"prov_a");
  none.simple.status = TargetStatus::kMissing;
  none.simple.path = u"C:\\nowhere\\missing.dll";
  w.publish(none);
  CHECK_EQ_U(send(w, "3"), 2u);
  // A stale "missing" for a provider not loaded here, while the registry names one that exists.
  ScopeResolution stale = machine_scope(L"prov_simple", L"prov_a");
  stale.simple.status = TargetStatus::kMissing;
  registry.point_at(L"prov_simple");
  w.publish(stale);
  CHECK_EQ_U(send(w, "4"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  CHECK_THAT(w.trace().find("the table says missing; checked here") != std::string::npos);
  return g_failures;
}

MD_CHILD_MAIN(corrupted_table_means_registry) {
  World w;
  RegistryClient registry(L"prov_simple");
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  CHECK_EQ_U(send(w, "1"), 0u);
  const size_t before = w.calls().size();
  // A "publish" that corrupts a record: a new count, bytes that fail their checksum.
  auto bytes = w.table_bytes();
  auto* count = reinterpret_cast<uint32_t*>(bytes.data() + offsetof(layout::TableHeader, sequence));
  const uint32_t odd = seqlock::write_begin(count);
  layout::TableHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  bytes[h.payload_end - 8] ^= std::byte{0xFF};  // inside the last record
  seqlock::write_end(count, odd);
  CHECK_EQ_U(send(w, "2"), 0u);
  CHECK_EQ_U(w.calls().size(), before + 1);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));  // the registry's answer
  CHECK_THAT(w.trace().find("table checksum mismatch") != std::string::npos);
  return g_failures;
}

// An incomplete table (table_layout.h, "Incomplete tables": user scopes left out because they did
// not fit) has no answer for a user it does not list: that user's own settings may be among those
// left out. The stub then reads the registry; a user it lists is served from the table; and a
// complete table still answers a user without a scope with the machine scope.
MD_CHILD_MAIN(incomplete_table_sends_users_left_out_to_the_registry) {
  World w;
  RegistryClient registry(L"prov_simple");  // what the registry says for this user: S
  const std::u16string me = win32::process_user_sid();
  CHECK_THAT(!me.empty());
  const ScopeResolution machine = machine_scope(L"prov_a", L"prov_a");  // the machine scope: A
  ScopeResolution mine = machine_scope(L"prov_b", L"prov_b");           // this user's scope: B
  mine.kind = ScopeKind::kUser;
  mine.sid = me;
  // Another user whose scope cannot be written (a string beyond the layout's limit): left out,
  // so every table with it is incomplete, whatever the section's size.
  ScopeResolution other = machine_scope(L"prov_b", L"prov_b");
  other.kind = ScopeKind::kUser;
  other.sid = u"S-1-5-21-1-2-3-4242";
  other.simple.reason.assign(layout::kMaxStringUnits + 1, u'r');
  auto publish = [&w](const std::vector<ScopeResolution>& scopes) {
#if defined(_WIN64)
    const std::error_code ec = w.writer().publish(scopes, {}, TableOverflow::kPartial);
#else
    const std::error_code ec = w.writer().publish(scopes, scopes, TableOverflow::kPartial);  // the WOW64 view
#endif
    CHECK_THAT(!ec);
    return w.writer().last_fit();
  };
  auto flags = [&w] {
    layout::TableHeader h;
    std::memcpy(&h, w.table_bytes().data(), sizeof h);
    return h.flags;
  };

  // Complete, without this user: the machine scope, as always.
  CHECK_THAT(publish({machine}).complete());
  CHECK_EQ_U(send(w, "1"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "A MAPISendMail"));
  // Incomplete, without this user: the registry, never the machine scope.
  CHECK_THAT(!publish({machine, other}).complete());
  CHECK_EQ_U(flags(), layout::kFlagIncomplete);
  size_t at = w.trace().size();
  CHECK_EQ_U(send(w, "2"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  CHECK_THAT(w.trace().find("via registry (table: the table is incomplete (its section is too small) and this "
                            "user's scope is not in it)",
                            at) != std::string::npos);
  // Incomplete, with this user: the table's answer for it.
  CHECK_THAT(!publish({machine, mine, other}).complete());
  at = w.trace().size();
  CHECK_EQ_U(send(w, "3"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B MAPISendMail"));
  CHECK_THAT(w.trace().find("via table generation", at) != std::string::npos);
  // Complete again, without this user: the machine scope again.
  CHECK_THAT(publish({machine}).complete());
  CHECK_EQ_U(flags(), 0u);
  CHECK_EQ_U(send(w, "4"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "A MAPISendMail"));
  if (g_failures != 0) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}

MD_CHILD_MAIN(untrusted_section_is_ignored) {
  World w;
  RegistryClient registry(L"prov_simple");
  // A section squatted by a user: a valid table pointing at provider A, but owned by a user SID.
  const std::string name = test::unique_name("mdsquat");
  PSECURITY_DESCRIPTOR sd = nullptr;
  ConvertStringSecurityDescriptorToSecurityDescriptorW(L"O:S-1-5-21-1-2-3-1001D:P(A;;0xF001F;;;WD)", SDDL_REVISION_1,
                                                        &sd, nullptr);
  SECURITY_ATTRIBUTES sa{sizeof sa, sd, FALSE};
  HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0, 1 << 16,
                                std::wstring(name.begin(), name.end()).c_str());
  LocalFree(sd);
  CHECK_THAT(h != nullptr);
  std::vector<std::byte> image;
  std::vector<ScopeResolution> scopes{machine_scope(L"prov_a", L"prov_a")};
  CHECK_THAT(!build_table_image(scopes, 1, 0, 1, 1 << 16, &image));
  void* view = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
  std::memcpy(view, image.data(), image.size());
  w.use_section(name);
  CHECK_EQ_U(send(w, "x"), 0u);
  CHECK_EQ_U(w.calls().size(), 1u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));  // the registry, not the squatter's A
  CHECK_THAT(w.trace().find("table: untrusted, ignored: the section is owned by S-1-5-21-1-2-3-1001") != std::string::npos);
  UnmapViewOfFile(view);
  CloseHandle(h);
  return g_failures;
}

MD_CHILD_MAIN(prefirstrun_once_then_error_codes) {
  World w;
  ScopeResolution s = machine_scope(nullptr, nullptr);
  s.prefirstrun_message = u"No mail client is installed";
  s.prefirstrun_caption = u"Mail";
  w.publish(s);
  CHECK_EQ_U(send(w, "1"), 2u);
  CHECK_EQ_U(send(w, "2"), 2u);
  CHECK_EQ_U(static_cast<uint32_t>(w.by_name<Initialize>("MAPIInitialize")(nullptr)), 0x80004005u);
  const std::string t = w.trace();
  const size_t first = t.find("prefirstrun: No mail client is installed | Mail");
  CHECK_THAT(first != std::string::npos);
  CHECK_THAT(t.find("prefirstrun:", first + 1) == std::string::npos);  // once per process
  return g_failures;
}

MD_CHILD_MAIN(send_mail_w_rules) {
  World w;
  const wchar_t subject[] = L"caf\u00e9";
  MessageW m{};
  m.subject = const_cast<LPWSTR>(subject);
  auto send_w = w.by_name<SendMailW>("MAPISendMailW");
  // A provider with MAPISendMailW gets the call as it is.
  w.publish(machine_scope(L"prov_w", L"prov_w"));
  CHECK_EQ_U(send_w(0, 0, &m, 0, 0), 0u);
  CHECK_THAT(w.last_call() == "W MAPISendMailW session=0 flags=0 subject=00630061006600E9");
  // Without one: converted to the ANSI code page for MAPISendMail...
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  CHECK_EQ_U(send_w(0, 0, &m, 0, 0), 0u);
  char acp[8] = {};
  WideCharToMultiByte(CP_ACP, 0, subject, -1, acp, sizeof acp, nullptr, nullptr);
  CHECK_THAT(w.last_call() == "A MAPISendMail session=0 flags=0 subject=" + hex(acp));
  // ...or to UTF-8 when the client sets SupportUTF8...
  ScopeResolution utf8 = machine_scope(L"prov_a", L"prov_a");
  utf8.supports_utf8 = true;
  w.publish(utf8);
  CHECK_EQ_U(send_w(0, 0, &m, 0, 0), 0u);
  CHECK_THAT(w.last_call() == "A MAPISendMail session=0 flags=0 subject=636166C3A9");
  // ...and refused when the caller forces Unicode.
  const size_t before = w.calls().size();
  CHECK_EQ_U(send_w(0, 0, &m, 0x00040000, 0), 27u);  // MAPI_E_UNICODE_NOT_SUPPORTED
  CHECK_EQ_U(w.calls().size(), before);
  return g_failures;
}

MD_CHILD_MAIN(forced_registry_mode_resolves_every_call) {
  World w;
  RegistryClient registry(L"prov_simple");
  w.publish(machine_scope(L"prov_a", L"prov_a"));  // ignored in the forced registry mode
  SetEnvironmentVariableW(L"MAPIDISPATCH_MODE", L"registry");
  CHECK_EQ_U(send(w, "1"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  registry.point_at(L"prov_b");  // no restart, no table: the next call follows the registry
  CHECK_EQ_U(send(w, "2"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "B MAPISendMail"));
  registry.point_at(kOtherProvider);  // a provider of the other bitness: never loaded
  CHECK_EQ_U(send(w, "3"), 2u);
  CHECK_THAT(GetModuleHandleW(provider_path(kOtherProvider).c_str()) == nullptr);
  CHECK_THAT(w.trace().find("wrong-bitness") != std::string::npos);
  CHECK_THAT(w.trace().find("via registry (forced)") != std::string::npos);
  return g_failures;
}

// HKLM's two AllowUncPaths values, the Group Policy key's and the service's Parameters key's, as
// a scenario sets them. Starts with neither set (a value left by another run is put aside); at
// the end what was there comes back, and keys this made are deleted.
class AllowUncValues {
 public:
  enum Where { kPolicy, kParameters };
  AllowUncValues() {
    for (int i = 0; i < 2; ++i) {
      Saved& s = saved_[i];
      // The service, a 64-bit process, reads the 64-bit view; so does the stub.
      HKEY own = nullptr;
      s.existed = RegOpenKeyExW(HKEY_LOCAL_MACHINE, kOwn[i], 0, KEY_READ | KEY_WOW64_64KEY, &own) == ERROR_SUCCESS;
      if (own != nullptr) RegCloseKey(own);
      RegCreateKeyExW(HKEY_LOCAL_MACHINE, kKeys[i], 0, nullptr, 0, KEY_ALL_ACCESS | KEY_WOW64_64KEY, nullptr, &s.key,
                      nullptr);
      DWORD size = sizeof s.data;
      s.had = RegQueryValueExW(s.key, L"AllowUncPaths", nullptr, &s.type, s.data, &size) == ERROR_SUCCESS;
      s.size = size;
      RegDeleteValueW(s.key, L"AllowUncPaths");
    }
  }
  AllowUncValues(const AllowUncValues&) = delete;
  AllowUncValues& operator=(const AllowUncValues&) = delete;
  ~AllowUncValues() {
    for (int i = 0; i < 2; ++i) {
      Saved& s = saved_[i];
      if (s.had) RegSetValueExW(s.key, L"AllowUncPaths", 0, s.type, s.data, s.size);
      else RegDeleteValueW(s.key, L"AllowUncPaths");
      RegCloseKey(s.key);
      if (!s.existed) RegDeleteTreeW(HKEY_LOCAL_MACHINE, kOwn[i]);
    }
  }
  void dword(Where where, DWORD v) {
    RegSetValueExW(saved_[where].key, L"AllowUncPaths", 0, REG_DWORD, reinterpret_cast<const BYTE*>(&v), sizeof v);
  }
  void string(Where where, const wchar_t* v) {
    RegSetValueExW(saved_[where].key, L"AllowUncPaths", 0, REG_SZ, reinterpret_cast<const BYTE*>(v),
                   static_cast<DWORD>((std::wcslen(v) + 1) * sizeof(wchar_t)));
  }

 private:
  static constexpr const wchar_t* kKeys[2] = {L"SOFTWARE\\Policies\\MapiDispatch",
                                              L"SYSTEM\\CurrentControlSet\\Services\\MapiDispatch\\Parameters"};
  // The key of each that is MapiDispatch's own, deleted at the end if this made it.
  static constexpr const wchar_t* kOwn[2] = {L"SOFTWARE\\Policies\\MapiDispatch",
                                             L"SYSTEM\\CurrentControlSet\\Services\\MapiDispatch"};
  struct Saved {
    HKEY key = nullptr;
    bool existed = false;
    bool had = false;
    DWORD type = 0;
    BYTE data[64] = {};
    DWORD size = 0;
  };
  Saved saved_[2];
};

// A test provider reached through a UNC path. Wine maps \\<host>\<share> to the folder
// <prefix>\dosdevices\unc\<host>\<share>, so the provider is copied into such a folder; on
// Windows, the drive's administrative share names the file where it is. Empty path: no way here.
class UncProvider {
 public:
  explicit UncProvider(const wchar_t* provider) {
    const std::wstring local = provider_path(provider);
    using WineGetVersion = const char*(CDECL*)();
    using WineDosName = WCHAR*(CDECL*)(LPCSTR);
    const auto wine = proc_cast<WineGetVersion>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version"));
    if (wine == nullptr) {
      if (local.size() > 3 && local[1] == L':') path_ = L"\\\\localhost\\" + local.substr(0, 1) + L"$" + local.substr(2);
      return;
    }
    const auto dos_name = proc_cast<WineDosName>(GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "wine_get_dos_file_name"));
    char prefix[1024];
    const DWORD n = GetEnvironmentVariableA("WINEPREFIX", prefix, sizeof prefix);
    if (dos_name == nullptr || n == 0 || n >= sizeof prefix) return;
    const std::string share = "mdstub-unc-" + std::to_string(GetCurrentProcessId());
    WCHAR* unc_root = dos_name((std::string(prefix) + "/dosdevices/unc").c_str());
    if (unc_root == nullptr) return;
    const std::wstring root(unc_root);
    HeapFree(GetProcessHeap(), 0, unc_root);
    CreateDirectoryW(root.c_str(), nullptr);
    CreateDirectoryW((root + L"\\localhost").c_str(), nullptr);
    folder_ = root + L"\\localhost\\" + std::wstring(share.begin(), share.end());
    CreateDirectoryW(folder_.c_str(), nullptr);
    copy_ = folder_ + L"\\" + provider + L".dll";
    if (!CopyFileW(local.c_str(), copy_.c_str(), FALSE)) {
      std::fprintf(stderr, "cannot copy the provider to %ls (%lu)\n", copy_.c_str(), GetLastError());
      return;
    }
    path_ = L"\\\\localhost\\" + std::wstring(share.begin(), share.end()) + L"\\" + provider + L".dll";
  }
  UncProvider(const UncProvider&) = delete;
  UncProvider& operator=(const UncProvider&) = delete;
  ~UncProvider() {
    if (!copy_.empty()) DeleteFileW(copy_.c_str());  // fails while loaded: the prefix goes anyway
    if (!folder_.empty()) RemoveDirectoryW(folder_.c_str());
  }
  const std::wstring& path() const { return path_; }

 private:
  std::wstring path_, folder_, copy_;
};

// The registry mode (the table cannot be trusted) applies the administrator's AllowUncPaths as
// the service does: a UNC provider is denied by default, and loaded when the effective setting
// (Group Policy over the service's Parameters, invalid values ignored) allows it.
MD_CHILD_MAIN(registry_mode_follows_the_unc_policy) {
  World w;
  const UncProvider unc(L"prov_simple");
  CHECK_THAT(!unc.path().empty());
  if (unc.path().empty()) return g_failures;
  AllowUncValues values;
  test::HkcuMailClient client(L"MapiDispatch Stub Test", unc.path());
  SetEnvironmentVariableW(L"MAPIDISPATCH_MODE", L"registry");  // resolves at every call
  const std::string unc_utf8(unc.path().begin(), unc.path().end());
  // Nothing set: denied, as the service would publish it.
  size_t at = w.trace().size();
  CHECK_EQ_U(send(w, "1"), 2u);
  CHECK_THAT(w.trace().find(unc_utf8 + " is denied-by-policy", at) != std::string::npos);
  // The service's Parameters allow UNC paths, Group Policy does not: the policy wins.
  values.dword(AllowUncValues::kParameters, 1);
  values.dword(AllowUncValues::kPolicy, 0);
  at = w.trace().size();
  CHECK_EQ_U(send(w, "2"), 2u);
  CHECK_THAT(w.trace().find(unc_utf8 + " is denied-by-policy", at) != std::string::npos);
  CHECK_THAT(w.calls().empty());
  // A policy value of the wrong type is ignored, as the service ignores it: Parameters' 1 applies
  // and the provider is loaded from the share.
  values.string(AllowUncValues::kPolicy, L"1");
  at = w.trace().size();
  CHECK_EQ_U(send(w, "3"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  CHECK_THAT(w.trace().find("bind simple: " + unc_utf8 + " via registry", at) != std::string::npos);
  if (g_failures != 0) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}

// ---- The tests ------------------------------------------------------------------------------

class Stub : public ::testing::TestWithParam<const char*> {};

TEST_P(Stub, Scenario) {
  auto child = test::spawn_self_child(GetParam());
  EXPECT_EQ(child.wait(), 0) << "scenario " << GetParam() << ": see its checks above";
}

INSTANTIATE_TEST_SUITE_P(InAFreshProcess, Stub,
                         ::testing::Values("by_name_and_ordinal", "session_stays_with_its_provider",
                                           "buffers_go_back_to_their_allocator",
                                           "buffers_handed_out_twice_keep_their_last_owner", "sessions_of_two_providers",
                                           "many_buffers_from_many_threads", "cmc_sessions_buffers_and_codes",
                                           "extended_binds_until_the_last_uninitialize",
                                           "wrong_bitness_is_never_loaded", "missing_exports_fail_with_the_family_code",
                                           "stopped_writer_means_registry", "write_in_progress_is_waited_out",
                                           "corrupted_table_means_registry",
                                           "incomplete_table_sends_users_left_out_to_the_registry",
                                           "files_that_change_behind_the_table",
                                           "untrusted_section_is_ignored", "prefirstrun_once_then_error_codes",
                                           "forced_registry_mode_resolves_every_call",
                                           "registry_mode_follows_the_unc_policy",
                                           "bare_name_loads_through_the_search_order", "bare_name_from_the_registry",
                                           "send_mail_w_rules"),
                         [](const auto& p) { return std::string(p.param); });

// Clients for the flip test: each calls session-less MAPISendMail `n` times; exit code = calls
// that failed.
MD_CHILD_MAIN(client_loop) {
  HMODULE stub = LoadLibraryW((exe_dir() + L"\\mapi32.dll").c_str());
  if (stub == nullptr) return 200;
  auto send_mail = proc_cast<SendMail>(GetProcAddress(stub, "MAPISendMail"));
  const int n = std::stoi(args.at(0));
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    MessageA m{};
    m.subject = const_cast<LPSTR>("flip");
    if (send_mail(0, 0, &m, 0, 0) != 0) ++failed;
  }
  return failed > 199 ? 199 : failed;
}

TEST(StubClients, DozensOfProcessesWhileTheDefaultFlips) {
  World w;  // this process writes the table; the children only load the stub
  w.publish(machine_scope(L"prov_a", L"prov_a"));
  constexpr int kClients = 24;
  constexpr int kCalls = 300;
  std::vector<test::Child> children;
  for (int i = 0; i < kClients; ++i) children.push_back(test::spawn_self_child("client_loop", {std::to_string(kCalls)}));
  std::atomic<bool> done{false};
  int flips = 0;
  std::thread flipper([&] {
    while (!done) {
      w.publish(machine_scope((flips % 2) ? L"prov_a" : L"prov_b", L"prov_a"));
      ++flips;
      Sleep(10);
    }
  });
  int failed = 0;
  for (auto& c : children) failed += c.wait();
  done = true;
  flipper.join();
  EXPECT_EQ(failed, 0) << "calls that failed while the default flipped";
  if (failed != 0) {
    // Every bind that did not come from the table, or bound nothing: the failed calls' causes.
    for (const auto& line : lines_of(w.trace()))
      if (line.find("] bind ") != std::string::npos && line.find(" via table generation ") == std::string::npos)
        std::printf("  %s\n", line.c_str());
  }
  int a = 0, b = 0;
  for (const auto& line : w.calls()) (line[0] == 'A' ? a : b) += line.find("MAPISendMail") != std::string::npos;
  EXPECT_EQ(a + b, kClients * kCalls) << "every call reached a provider exactly once";
  EXPECT_GT(flips, 2);
  // Reads that met a write in progress and waited it out (binding.cpp, read_table_locked()).
  int waits = 0, longest_ms = 0;
  const std::string trace = w.trace();
  const std::string waited = ", after waiting ";
  for (size_t at = trace.find(waited); at != std::string::npos; at = trace.find(waited, at + 1)) {
    ++waits;
    longest_ms = std::max(longest_ms, std::atoi(trace.c_str() + at + waited.size()));
  }
  std::printf("%d clients x %d calls, %d flips: %d to A, %d to B; %d reads waited for a write in progress, "
              "the longest %d ms\n",
              kClients, kCalls, flips, a, b, waits, longest_ms);
}

}  // namespace
}  // namespace mapidispatch
