// Copyright MapiDispatch authors.
//
//! \file
//! The Simple MAPI structures (mapi.h: MapiRecipDesc, MapiFileDesc, MapiMessage and their W
//! forms), declared once with the same layout, for the stub (MAPISendMailW conversion) and the
//! test and demo providers. Windows only.

#ifndef MAPIDISPATCH_WIN32_SIMPLE_MAPI_H_
#define MAPIDISPATCH_WIN32_SIMPLE_MAPI_H_

#ifndef _WIN32
#error "Windows only"
#endif

#include <windows.h>

namespace mapidispatch::simple_mapi {

//! MapiRecipDesc / MapiRecipDescW.
template <typename Char>
struct RecipDesc {
  ULONG reserved, recip_class;
  Char* name;
  Char* address;
  ULONG eid_size;
  LPVOID entry_id;
};

//! MapiFileDesc / MapiFileDescW.
template <typename Char>
struct FileDesc {
  ULONG reserved, flags, position;
  Char* path_name;
  Char* file_name;
  LPVOID file_type;
};

//! MapiMessage / MapiMessageW.
template <typename Char>
struct Message {
  ULONG reserved;
  Char* subject;
  Char* note_text;
  Char* message_type;
  Char* date_received;
  Char* conversation_id;
  ULONG flags;
  RecipDesc<Char>* originator;
  ULONG recip_count;
  RecipDesc<Char>* recips;
  ULONG file_count;
  FileDesc<Char>* files;
};

using RecipA = RecipDesc<char>;
using RecipW = RecipDesc<wchar_t>;
using FileA = FileDesc<char>;
using FileW = FileDesc<wchar_t>;
using MessageA = Message<char>;
using MessageW = Message<wchar_t>;

// mapi.h's sizes on both architectures.
static_assert(sizeof(MessageA) == (sizeof(void*) == 8 ? 96 : 48));
static_assert(sizeof(RecipA) == (sizeof(void*) == 8 ? 40 : 24));
static_assert(sizeof(FileA) == (sizeof(void*) == 8 ? 40 : 24));

}  // namespace mapidispatch::simple_mapi

#endif  // MAPIDISPATCH_WIN32_SIMPLE_MAPI_H_
