/*
** dump.c: the disassembler (he --dump, the REPL's :dis). Names, formats and
** synopses come from opcodes.def.
*/
#include "interp.h"

const char *const op_names[OP__COUNT] = {
#define OP(name, fmt, syn) #name,
#include "opcodes.def"
#undef OP
};

const opfmt op_formats[OP__COUNT] = {
#define OP(name, fmt, syn) fmt,
#include "opcodes.def"
#undef OP
};

const char *const op_synopsis[OP__COUNT] = {
#define OP(name, fmt, syn) syn,
#include "opcodes.def"
#undef OP
};

/* Ops followed by one raw operand word. */
static bool has_extra_word(opcode o) { return o == OP_GETEXT || o == OP_SLICE || o == OP_SETSLICE || o == OP_GETF2 || o == OP_SETF2 || o == OP_CALLG || o == OP_CALLB; }

void proto_dump(FILE *out, proto *p, const char *src, size_t srclen)
{
    (void)src;
    (void)srclen;
    fprintf(out, "function %s (%s:%d): %d params, %d registers, %d constants, %d captures\n", p->name,
            p->file ? p->file : p->mod ? p->mod->path : "?", p->line, p->nparams, p->nregs, p->nk, p->ncaps);
    int last_line = -1;
    for (int pc = 0; pc < p->ncode; pc++) {
        instr i = p->code[pc];
        opcode o = GET_OP(i);
        char line[16] = "";
        if (p->lines[pc] != last_line) snprintf(line, sizeof line, "[%d]", p->lines[pc]);
        last_line = p->lines[pc];
        fprintf(out, "  %4d %6s  %-10s", pc, line, op_names[o]);
        switch (op_formats[o]) {
        case ABC:
            if (o == OP_ADDIK || o == OP_MULIK || o == OP_MODIK) fprintf(out, "%3d %3d %3d", GET_A(i), GET_B(i), GET_sC(i));
            else if (o == OP_JLTIK || o == OP_JGTIK) fprintf(out, "%3d %3d %3d", GET_A(i), GET_sB(i), GET_C(i));
            else fprintf(out, "%3d %3d %3d", GET_A(i), GET_B(i), GET_C(i));
            break;
        case ABx: fprintf(out, "%3d %7d", GET_A(i), GET_Bx(i)); break;
        case AsBx: fprintf(out, "%3d %7d", GET_A(i), GET_sBx(i)); break;
        case sJ: fprintf(out, "%11d", GET_sJ(i)); break;
        }
        /* what the operands mean */
        if (o == OP_LOADK || o == OP_CLOSURE) {
            he_buf b;
            he_buf_init(&b);
            he_repr(p->k[GET_Bx(i)], &b, true);
            fprintf(out, "    ; %s", b.data ? b.data : "");
            he_buf_free(&b);
        } else if (o == OP_JMP) fprintf(out, "    ; to %d", pc + 1 + GET_sJ(i));
        else if (o == OP_FORPREP || o == OP_FORLOOP || o == OP_ITERNEXT) fprintf(out, "    ; to %d", pc + 1 + GET_sBx(i));
        else if (o == OP_CALLB) {
            const builtin *b = &builtins[p->code[pc + 1]];
            fprintf(out, "    ; %s%s%s", b->module ? b->module : "", b->module ? "." : "", b->name);
        }
        else if (o == OP_GETGLOBAL || o == OP_GETGLOBALT || o == OP_SETGLOBAL) {
            for (int g = 0; p->mod && g < p->mod->ngsyms; g++) {
                sym *s = p->mod->gsyms[g];
                if (s->kind == SYM_GLOBAL && s->slot == GET_Bx(i)) fprintf(out, "    ; %s", s->name);
            }
        } else if (o == OP_CHECK) fprintf(out, "    ; %s", ty_str_of(p->types[GET_Bx(i)]));
        else if (o == OP_ADDFK || o == OP_SUBFK || o == OP_MULFK) {
            he_buf b;
            he_buf_init(&b);
            he_repr(p->k[GET_C(i)], &b, true);
            fprintf(out, "    ; %s", b.data ? b.data : "");
            he_buf_free(&b);
        }
        fputc('\n', out);
        if (has_extra_word(o)) {
            pc++;
            fprintf(out, "  %4d %6s  %-10s%11u\n", pc, "", "(operand)", (unsigned)p->code[pc]);
        }
    }
}
