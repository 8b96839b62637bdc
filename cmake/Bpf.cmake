# Builds BPF objects with clang and wraps them in libbpf skeletons (bpftool gen skeleton).
#
# vmlinux.h is generated at configure time from the build machine's BTF
# (/sys/kernel/btf/vmlinux), or taken from -DSNI_VMLINUX_H=<file>. The programs use CO-RE only,
# so the generated header carries type names, and libbpf relocates every field offset against
# the running kernel's BTF at load time: nothing of the build machine's kernel is baked in.

find_program(BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(SNI_VMLINUX_H "" CACHE FILEPATH "A vmlinux.h to use instead of generating one")
set(SNI_BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf-gen)
file(MAKE_DIRECTORY ${SNI_BPF_GEN_DIR})

if(SNI_VMLINUX_H)
  configure_file(${SNI_VMLINUX_H} ${SNI_BPF_GEN_DIR}/vmlinux.h COPYONLY)
elseif(NOT EXISTS ${SNI_BPF_GEN_DIR}/vmlinux.h)
  if(NOT EXISTS /sys/kernel/btf/vmlinux)
    message(FATAL_ERROR "No /sys/kernel/btf/vmlinux on this build machine: pass -DSNI_VMLINUX_H=<file> "
                        "(any BTF-generated vmlinux.h of kernel 6.1 or newer) or -DSNI_BUILD_BPF=OFF")
  endif()
  execute_process(
    COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c
    OUTPUT_FILE ${SNI_BPF_GEN_DIR}/vmlinux.h
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(REMOVE ${SNI_BPF_GEN_DIR}/vmlinux.h)
    message(FATAL_ERROR "bpftool btf dump failed (${rc})")
  endif()
endif()

# sni_bpf_skeleton(<name> <source.bpf.c> [DEPENDS headers...])
# Produces the object <name>.bpf.o, the skeleton <name>.skel.h, and an INTERFACE target
# <name>_skel that C++ code links to include the skeleton.
function(sni_bpf_skeleton name src)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  set(obj ${SNI_BPF_GEN_DIR}/${name}.bpf.o)
  set(skel ${SNI_BPF_GEN_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_x86
            -Wall -Werror -Wno-unused-function
            -I${SNI_BPF_GEN_DIR} -I${CMAKE_SOURCE_DIR}/bpf
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src} ${ARG_DEPENDS} ${SNI_BPF_GEN_DIR}/vmlinux.h
    COMMENT "BPF ${src}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${SNI_BPF_GEN_DIR} ${CMAKE_SOURCE_DIR}/bpf)
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
