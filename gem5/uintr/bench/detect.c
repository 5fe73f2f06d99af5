/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The same rule as uintr-sys/src/detect.rs: the CPUID bit AND the kernel's
 * /proc/cpuinfo flag, or no UINTR syscall is ever made.
 */

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "uintr_bench.h"

static int
cpuinfo_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int found = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        const char *colon = strchr(line, ':');
        for (char *tok = strtok(colon ? (char *)colon + 1 : line, " \t\n");
             tok; tok = strtok(NULL, " \t\n")) {
            if (strcmp(tok, flag) == 0)
                found = 1;
        }
        break; /* the first CPU's flags */
    }
    fclose(f);
    return found;
}

int
uintr_detect(int want_kbtimer)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) ||
        !(edx & (1u << 5))) {
        fprintf(stderr, "uintr: CPUID.(7,0):EDX[5] is clear\n");
        return 0;
    }
    if (!cpuinfo_has_flag("uintr")) {
        fprintf(stderr, "uintr: no `uintr` flag in /proc/cpuinfo\n");
        return 0;
    }
    if (want_kbtimer && !cpuinfo_has_flag("xui_kbtimer")) {
        fprintf(stderr, "uintr: no `xui_kbtimer` flag in /proc/cpuinfo\n");
        return 0;
    }
    return 1;
}
