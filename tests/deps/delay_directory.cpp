// Copyright MapiDispatch authors.
//
// The end of the delay-load table of the `delay` fixture. GNU ld 2.40 links a delay-import
// library from `dlltool --output-delaylib` (the thunks, the IAT, the name table, and the
// descriptor the helper uses: __DELAY_IMPORT_DESCRIPTOR_libmdnotthere2_delay_a, in .text$2) but
// leaves the optional header's Delay Import data directory (entry 13) empty, so a PE reader
// that follows the directory, as the service's does, would see no delay import at all. MSVC's
// linker fills it, and ends the table with an all-zero descriptor, which dlltool's library
// lacks. This is that terminator, in .text$2z: ld sorts .text$ sections by name, so it follows
// the descriptor directly. set_delay_directory.sh then points entry 13 at the descriptor, up to
// md_delay_directory_end, and fails the build unless that is exactly one descriptor and the
// terminator (32 + 32 bytes).

asm(R"(
    .section .text$2z,"dr"
    .p2align 4
    .long 0, 0, 0, 0, 0, 0, 0, 0
    .globl md_delay_directory_end
md_delay_directory_end:
    .text
)");
