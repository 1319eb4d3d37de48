// Copyright MapiDispatch authors.
//
// mapidispatch-setup mailclient-register and mailclient-unregister: registration as a mail
// client (setup_actions.h).

#include <windows.h>

#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "setup_actions.h"
#include "setup_core.h"

namespace mapidispatch::setup {
namespace {

constexpr wchar_t kMailKey[] = L"SOFTWARE\\Clients\\Mail";
constexpr wchar_t kClientName[] = L"MapiDispatch";

// A mail client name: a subkey of Software\Clients\Mail.
bool valid_client_name(const std::wstring& v) {
  return !v.empty() && v.size() <= 255 && v.find_first_of(L"\\/\"") == std::wstring::npos;
}

std::wstring expand(const std::wstring& s) {
  wchar_t buf[MAX_PATH * 4];
  const DWORD n = ::ExpandEnvironmentStringsW(s.c_str(), buf, static_cast<DWORD>(std::size(buf)));
  return n == 0 || n > std::size(buf) ? s : std::wstring(buf);
}

}  // namespace

int cmd_mailclient_register(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--mode", L"--saved", L"--upstream", L"--saved-upstream", L"--saved-default", L"--install-dir",
                    L"--x86-dir"},
             &a, &why) ||
      !a.positional.empty())
    return fail(why.empty() ? L"unexpected argument" : why, kUsage);
  std::wstring mode = lower(trim(opt(a, L"--mode")));
  if (mode.empty()) mode = lower(trim(opt(a, L"--saved")));
  if (mode.empty()) {
    log_line(L"MAILCLIENT is not set: MapiDispatch is not registered as a mail client");
    return kOk;
  }
  if (mode != L"register" && mode != L"default")
    return fail(L"MAILCLIENT='" + mode + L"' is not valid: use register (add the Clients\\Mail entry) or default "
                L"(add it and make it the machine's default mail client)", kUsage);
  const std::wstring given_upstream = trim(opt(a, L"--upstream"));
  if (!given_upstream.empty() && (!valid_client_name(given_upstream) || iequals(given_upstream, kClientName)))
    return fail(L"UPSTREAMCLIENT='" + given_upstream + L"' is not valid: the name of another mail client (a subkey of "
                L"Software\\Clients\\Mail) of at most 255 characters without \\, / or \"", kUsage);

  // One DLLPath serves 32-bit and 64-bit processes (HKLM\Software\Clients is shared between the
  // registry views): %ProgramFiles% expands to "Program Files" in a 64-bit process and to
  // "Program Files (x86)" in a 32-bit one, so the stubs must sit in the two MapiDispatch folders.
  const std::wstring x64 = full_path(opt(a, L"--install-dir"));
  const std::wstring x86 = full_path(opt(a, L"--x86-dir"));
  const std::wstring pf64 = full_path(expand(L"%ProgramW6432%\\MapiDispatch"));
  const std::wstring pf86 = full_path(expand(L"%ProgramFiles(x86)%\\MapiDispatch"));
  if (!iequals(x64, pf64) || !iequals(x86, pf86))
    return fail(L"MAILCLIENT needs the default folders (" + pf64 + L" and " + pf86 + L"), not " + x64 + L" and " +
                x86 + L": the Clients\\Mail entry names the stub as %ProgramFiles%\\MapiDispatch\\mapi32.dll, which "
                L"is the x64 stub for 64-bit processes and the x86 stub for 32-bit ones", kUsage);
  const std::wstring dll = L"%ProgramFiles%\\MapiDispatch\\mapi32.dll";

  Key mail;
  LSTATUS rc = create_key(kMailKey, &mail);
  if (rc != ERROR_SUCCESS) return fail(L"opening HKLM\\" + std::wstring(kMailKey) + L": " + win_error_text(rc));
  Key setup;
  rc = create_key(kSetupKey, &setup);
  if (rc != ERROR_SUCCESS) return fail(L"opening HKLM\\" + std::wstring(kSetupKey) + L": " + win_error_text(rc));
  const std::wstring current = read_string(mail.h, nullptr).value_or(L"");
  const std::wstring recorded = read_string(setup.h, L"PreviousDefaultClient").value_or(L"");
  std::wstring upstream = given_upstream, upstream_origin = L"property UPSTREAMCLIENT";
  if (upstream.empty()) {
    upstream = trim(opt(a, L"--saved-upstream"));
    upstream_origin = L"kept from the previous installation";
  }
  if (upstream.empty() && !current.empty() && !iequals(current, kClientName)) {
    upstream = current;
    upstream_origin = L"the default mail client before MapiDispatch";
  }
  if (upstream.empty() && !recorded.empty()) {
    upstream = recorded;
    upstream_origin = L"the recorded previous default";
  }
  const std::wstring client_key = std::wstring(kMailKey) + L"\\" + kClientName;
  Key client;
  rc = create_key(client_key, &client);
  if (rc == ERROR_SUCCESS) rc = write_string(client.h, nullptr, L"MapiDispatch (dispatches to the upstream mail client)");
  if (rc == ERROR_SUCCESS) rc = write_string(client.h, L"DLLPath", dll, REG_EXPAND_SZ);
  if (rc == ERROR_SUCCESS) rc = write_string(client.h, L"DLLPathEx", dll, REG_EXPAND_SZ);
  if (rc == ERROR_SUCCESS && !upstream.empty()) rc = write_string(client.h, L"UpstreamClient", upstream);
  if (rc != ERROR_SUCCESS) return fail(L"writing HKLM\\" + client_key + L": " + win_error_text(rc));
  log_line(L"registered the mail client HKLM\\" + client_key + L": DLLPath = DLLPathEx = " + dll);
  if (!upstream.empty()) {
    if (!key_exists(std::wstring(kMailKey) + L"\\" + upstream))
      log_line(L"warning: the upstream client '" + upstream + L"' is not installed (no HKLM\\" +
               std::wstring(kMailKey) + L"\\" + upstream + L"): calls through the registration fail until it is");
    log_line(L"UpstreamClient = '" + upstream + L"' (" + upstream_origin + L")");
  } else {
    log_line(L"warning: no upstream client (no UPSTREAMCLIENT and no default mail client before): calls through the "
             L"registration fail until UpstreamClient is set in HKLM\\" + client_key);
  }

  if (mode == L"register" && current.empty() && iequals(trim(opt(a, L"--saved-default")), kClientName)) {
    rc = write_string(mail.h, nullptr, kClientName);
    if (rc != ERROR_SUCCESS) return fail(L"setting the default mail client back: " + win_error_text(rc));
    log_line(L"MapiDispatch was the default mail client before the upgrade, and the removal of the previous "
             L"version unset it: the default is MapiDispatch again");
  }
  if (mode == L"default") {
    const std::wstring& previous = current;
    if (!previous.empty() && !iequals(previous, kClientName)) {
      rc = write_string(setup.h, L"PreviousDefaultClient", previous);
      if (rc != ERROR_SUCCESS) return fail(L"recording PreviousDefaultClient: " + win_error_text(rc));
      log_line(L"recorded the previous default mail client: PreviousDefaultClient = '" + previous + L"'");
    } else if (previous.empty()) {
      log_line(L"there was no default mail client before (nothing recorded)");
    } else {
      log_line(L"MapiDispatch already is the default mail client (PreviousDefaultClient kept as it is)");
    }
    rc = write_string(mail.h, nullptr, kClientName);
    if (rc != ERROR_SUCCESS) return fail(L"setting the default mail client: " + win_error_text(rc));
    log_line(L"the machine's default mail client is now MapiDispatch (HKLM\\Software\\Clients\\Mail)");
  }
  rc = write_string(setup.h, L"MailClient", mode);
  if (rc != ERROR_SUCCESS) return fail(L"recording MailClient: " + win_error_text(rc));
  return kOk;
}

int cmd_mailclient_unregister(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {}, &a, &why) || !a.positional.empty()) return fail(why.empty() ? L"takes no arguments" : why, kUsage);
  const std::wstring client_key = std::wstring(kMailKey) + L"\\" + kClientName;
  Key mail;
  if (open_key(kMailKey, KEY_READ | KEY_WRITE, &mail) == ERROR_SUCCESS) {
    const auto current = read_string(mail.h, nullptr);
    if (current && iequals(*current, kClientName)) {
      Key setup_read;
      std::wstring previous;
      if (open_key(kSetupKey, KEY_READ, &setup_read) == ERROR_SUCCESS)
        previous = read_string(setup_read.h, L"PreviousDefaultClient").value_or(L"");
      if (!previous.empty() && key_exists(std::wstring(kMailKey) + L"\\" + previous)) {
        write_string(mail.h, nullptr, previous);
        log_line(L"restored the previous default mail client '" + previous + L"'");
      } else {
        ::RegDeleteValueW(mail.h, nullptr);
        log_line(previous.empty() ? L"no previous default mail client was recorded: the default is now unset"
                                  : L"the previous default mail client '" + previous +
                                        L"' is no longer installed: the default is now unset");
      }
    }
  }
  if (key_exists(client_key)) {
    const LSTATUS rc = delete_tree(client_key);
    if (rc != ERROR_SUCCESS) return fail(L"deleting HKLM\\" + client_key + L": " + win_error_text(rc));
    log_line(L"removed HKLM\\" + client_key);
  }
  delete_setup_values({L"MailClient", L"PreviousDefaultClient"});
  return kOk;
}

}  // namespace mapidispatch::setup
