// Copyright MapiDispatch authors.
//
// A MAPI client application for the live demonstration and the end-to-end test: it loads
// mapi32.dll the way applications do (by name: the application's folder first, then the system
// folder) and sends mail with MAPISendMail, session-less, as "Send to > Mail recipient" does.
//
//   mapi_client.exe --tag TEXT [--count N | --until-file PATH] [--interval-ms MS] [--log FILE]
//                   [--dll NAME]
//
// Each call appends "<n> <result>" to --log (if given). At the end it prints one line:
// "<tag>: N calls, M failed, loaded <path of mapi32.dll>" and exits 0 if no call failed, 1 if any
// did, 2 on a bad command line, 3 if mapi32.dll or MAPISendMail cannot be found.

#include <windows.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct Recip {
  ULONG reserved, recip_class;
  LPSTR name, address;
  ULONG eid_size;
  void* entry_id;
};
struct Message {
  ULONG reserved;
  LPSTR subject, note_text, message_type, date_received, conversation_id;
  ULONG flags;
  Recip* originator;
  ULONG recip_count;
  Recip* recips;
  ULONG file_count;
  void* files;
};
using SendMailFn = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, Message*, ULONG, ULONG);

int usage(const char* why) {
  std::fprintf(stderr,
               "mapi_client: %s\n"
               "usage: mapi_client.exe --tag TEXT [--count N | --until-file PATH] [--interval-ms MS] [--log FILE] "
               "[--dll NAME]\n",
               why);
  return 2;
}

bool exists(const std::string& path) { return GetFileAttributesA(path.c_str()) != INVALID_FILE_ATTRIBUTES; }

}  // namespace

int main(int argc, char** argv) {
  std::string tag, until_file, log_path, dll = "mapi32.dll";
  long count = -1, interval_ms = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(("option " + a + " needs a value").c_str());
    const std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--tag") {
      tag = v;
    } else if (a == "--count") {
      count = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || count < 1) return usage("--count must be a positive number");
    } else if (a == "--interval-ms") {
      interval_ms = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || interval_ms < 0 || interval_ms > 600000) return usage("--interval-ms must be 0 to 600000");
    } else if (a == "--until-file") {
      until_file = v;
    } else if (a == "--log") {
      log_path = v;
    } else if (a == "--dll") {
      dll = v;
    } else {
      return usage(("unknown option " + a).c_str());
    }
  }
  if (tag.empty()) return usage("--tag is required");
  if ((count < 0) == until_file.empty()) return usage("give exactly one of --count and --until-file");

  HMODULE mapi = LoadLibraryA(dll.c_str());
  if (mapi == nullptr) {
    std::fprintf(stderr, "%s: cannot load %s (error %lu)\n", tag.c_str(), dll.c_str(), GetLastError());
    return 3;
  }
  char loaded[MAX_PATH] = "?";
  GetModuleFileNameA(mapi, loaded, MAX_PATH);
  auto send = reinterpret_cast<SendMailFn>(reinterpret_cast<void*>(GetProcAddress(mapi, "MAPISendMail")));
  if (send == nullptr) {
    std::fprintf(stderr, "%s: %s has no MAPISendMail\n", tag.c_str(), loaded);
    return 3;
  }

  FILE* log = log_path.empty() ? nullptr : std::fopen(log_path.c_str(), "a");
  long calls = 0, failed = 0;
  ULONG last_failure = 0;
  for (long n = 1;; ++n) {
    if (count >= 0 && n > count) break;
    if (count < 0 && exists(until_file)) break;
    std::string subject = tag + " message " + std::to_string(n);
    std::string body = "Sent by " + tag + " through " + std::string(loaded) + ".";
    std::string address = "SMTP:helpdesk@farm.example";
    Recip to{0, 1 /* MAPI_TO */, const_cast<char*>("Helpdesk"), address.data(), 0, nullptr};
    Message m{};
    m.subject = subject.data();
    m.note_text = body.data();
    m.recip_count = 1;
    m.recips = &to;
    const ULONG rc = send(0, 0, &m, 0, 0);
    ++calls;
    if (rc != 0) {
      ++failed;
      last_failure = rc;
    }
    if (log) {
      std::fprintf(log, "%ld %lu\n", n, rc);
      std::fflush(log);
    }
    if (interval_ms > 0) Sleep(static_cast<DWORD>(interval_ms));
  }
  if (log) std::fclose(log);
  std::printf("%s: %ld calls, %ld failed%s, loaded %s\n", tag.c_str(), calls, failed,
              failed ? (" (last error " + std::to_string(last_failure) + ")").c_str() : "", loaded);
  return failed == 0 ? 0 : 1;
}
