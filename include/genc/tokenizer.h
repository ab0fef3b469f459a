/* genc tokenizer: a byte-level BPE tokenizer (training, encoding, decoding) and its
 * safetensors form, standalone or inside a model checkpoint.
 *
 * Vocabulary (ids):
 *   0 .. 255      the 256 bytes; every byte sequence is encodable, invalid UTF-8 included
 *   256 .. 262    the special tokens, in this order: <|bos|> <|eos|> <|pad|> <think>
 *                 </think> <answer> </answer>
 *   263 ..        learned merges: merge i joins tokens (a, b) into token 263 + i; a and b
 *                 are bytes or earlier merges, never special tokens.
 *
 * Pre-tokenisation: before merging, text is cut into chunks and merges never cross a chunk
 * boundary. Three modes, chosen at training and stored with the tokenizer; new tokenizers
 * get "qwen2" (GENC_PRETOK_DEFAULT), tokenizers saved before keep the mode their file names.
 *
 * "qwen2" (the default): the chunks of the regex of Qwen2's tokenizer.json
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * on Unicode code points (contractions case-insensitive in ASCII): a letter run led by at
 * most one other non-newline, non-digit character (" word", "(word", "\tword"); each digit
 * alone (as in genc-v1: "2024" is four chunks, numbers look the same wherever they appear);
 * a punctuation run with an optional leading space and its trailing newlines; whitespace
 * up to its last newline, else leaving its last space to what follows. It is llama.cpp's
 * "qwen2" pre-type and the HF Split regex genc writes, so an exported tokenizer tokenises
 * identically there (chunks of more than GENC_TOK_MAX_CHUNK bytes aside). Invalid UTF-8
 * bytes count as single code points of no class (llama.cpp reads each as U+FFFD, a symbol).
 *
 * "genc-v1" (genc's first mode, the default before "qwen2"; no other tokenizer implements
 * it). Byte classes: letters are A-Z, a-z and every byte >= 0x80 (so UTF-8 multibyte
 * characters, and invalid UTF-8, are letters); digits are 0-9; whitespace is space, \t,
 * \n, \v, \f, \r; everything else is punctuation. Chunks:
 *   - a run of letters, optionally preceded by one space (" hello");
 *   - each digit alone ("2024" is four chunks: digits stay single-byte tokens 48..57, so
 *     numbers look the same to a model wherever they appear — good for arithmetic);
 *   - a run of punctuation, optionally preceded by one space (" (\"", ".");
 *   - a run of whitespace; when it ends in a space and a letter or punctuation follows,
 *     that last space is left to start the next chunk ("a  b" -> "a", " ", " b"). A
 *     space before a digit stays in the whitespace chunk.
 * A chunk longer than GENC_TOK_MAX_CHUNK bytes is cut into pieces of that size, so
 * encoding stays linear in the input whatever it holds.
 *
 * "gpt2": the chunks of OpenAI's GPT-2 regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * on Unicode code points (digit runs are one chunk), the split of the HF tokenizers
 * ByteLevel pre-tokenizer and of llama.cpp's "gpt-2" pre-type, so an exported tokenizer of
 * this mode tokenises identically there (chunks of more than GENC_TOK_MAX_CHUNK bytes
 * aside: genc cuts them, they do not).
 * Invalid UTF-8 bytes count as single code points of no class.
 *
 * Special tokens: genc_tokenizer_encode with allow_special matches their exact strings in
 * the input (leftmost first) and emits their single ids; the text between them is
 * pre-tokenised separately. Without allow_special their text is plain bytes. Training
 * treats special strings as boundaries too (as encoding with specials allowed does).
 * decode(encode(x)) == x byte for byte either way (a special id decodes to its string).
 *
 * Training: chunk frequencies are counted in a hash map, then the most frequent adjacent
 * pair is merged repeatedly (ties: lowest first id, then lowest second id), with pair
 * counts updated incrementally around each merge and a lazy max-heap. The result depends
 * only on the input bytes, never on thread counts or hash seeds. Training stops early,
 * with a smaller vocabulary, when no adjacent pair is left.
 *
 * Encoding applies, per chunk, the lowest-ranked merge present until none applies (the
 * same segmentation training produced), and caches chunk -> ids. The cache makes encode
 * mutate the tokenizer: one tokenizer must not encode from two threads at once (decode
 * and the other const calls may run concurrently). */
#ifndef GENC_TOKENIZER_H
#define GENC_TOKENIZER_H

#include "core.h"
#include "safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GENC_TOK_N_BYTES 256
#define GENC_TOK_N_SPECIAL 7
#define GENC_TOK_N_CONTROL 3 /* <|bos|> <|eos|> <|pad|>: special whatever the tag mode */
#define GENC_TOK_FIRST_MERGE (GENC_TOK_N_BYTES + GENC_TOK_N_SPECIAL) /* 263 */
#define GENC_TOK_MAX_CHUNK 64       /* bytes per pre-tokenised chunk */
#define GENC_TOK_MAX_VOCAB (1 << 24) /* the largest vocab_size training or loading accepts */
#define GENC_TOK_PRETOKENIZER "genc-v1" /* the name of genc's own mode (not the default) */
#define GENC_TOK_FORMAT_VERSION 1

typedef struct genc_tokenizer genc_tokenizer;

/* Tag modes. GENC_TAGS_SPECIAL (the default): encoding with allow_special matches the
 * strings <think> </think> <answer> </answer> as the single tokens 259..262, as Hugging
 * Face tokenizers match added tokens. GENC_TAGS_TEXT: only <|bos|> <|eos|> <|pad|> are
 * matched; the four tags are ordinary text, cut into chunks and merged like any markup
 * ("</", "think", ">"), so a model that has learned to close the tags it has seen can
 * close one it has never seen (docs/r1zero.md). Ids 259..262 stay in the vocabulary and
 * decode to their strings, but encoding never produces them. The mode is saved with the
 * tokenizer ("tags": "text" in its metadata; absent means special). */
typedef enum { GENC_TAGS_SPECIAL = 0, GENC_TAGS_TEXT = 1 } genc_tags;

/* The pre-tokenisation modes, and their names in files and flags ("genc-v1", "gpt2",
 * "qwen2"); GENC_PRETOK_DEFAULT is the one new tokenizers get. */
typedef enum { GENC_PRETOK_GENC_V1 = 0, GENC_PRETOK_GPT2 = 1, GENC_PRETOK_QWEN2 = 2 } genc_pretokenizer;
#define GENC_PRETOK_DEFAULT GENC_PRETOK_QWEN2
const char *genc_pretokenizer_name(genc_pretokenizer p);
bool genc_pretokenizer_parse(const char *name, genc_pretokenizer *out); /* false if unknown */

/* The special token strings, in id order (GENC_TOK_N_SPECIAL of them). */
extern const char *const genc_tokenizer_special_names[GENC_TOK_N_SPECIAL];

/* Train on the concatenation of files (each file is pre-tokenised on its own). vocab_size
 * must be in [263, GENC_TOK_MAX_VOCAB]. On failure *out is NULL and the context names
 * the file or flag. */
genc_status genc_tokenizer_train(genc_ctx *ctx, const char *const *files, int n_files, int vocab_size,
                                 genc_tokenizer **out);
/* The same from one buffer. */
genc_status genc_tokenizer_train_memory(genc_ctx *ctx, const uint8_t *text, size_t n, int vocab_size,
                                        genc_tokenizer **out);
/* Both with a chosen pre-tokenisation and tag mode (the two above use GENC_PRETOK_DEFAULT
 * and special tags). Under GENC_TAGS_TEXT the tags are not chunk boundaries in training either, and
 * the tokenizer comes out in that mode. */
genc_status genc_tokenizer_train_with(genc_ctx *ctx, const char *const *files, int n_files, int vocab_size,
                                      genc_pretokenizer pretok, genc_tags tags, genc_tokenizer **out);
genc_status genc_tokenizer_train_memory_with(genc_ctx *ctx, const uint8_t *text, size_t n, int vocab_size,
                                             genc_pretokenizer pretok, genc_tags tags, genc_tokenizer **out);
/* A tokenizer from a merge list merges[2*i], merges[2*i+1], validated as the loader does;
 * `label` names the source in messages. */
genc_status genc_tokenizer_from_merges(genc_ctx *ctx, const int64_t *merges, int n_merges, const char *label,
                                       genc_tokenizer **out);
void genc_tokenizer_free(genc_tokenizer *t); /* NULL is fine */
/* The pre-tokenisation a tokenizer encodes with; setting it (genc_tokenizer_from_merges
 * makes genc-v1) empties the chunk cache. */
genc_pretokenizer genc_tokenizer_pretokenizer(const genc_tokenizer *t);
void genc_tokenizer_set_pretokenizer(genc_tokenizer *t, genc_pretokenizer p);

/* Encode n bytes; *ids (caller frees; non-NULL even when *n_ids is 0) and *n_ids. */
genc_status genc_tokenizer_encode(genc_tokenizer *t, genc_ctx *ctx, const uint8_t *bytes, size_t n,
                                  bool allow_special, int32_t **ids, size_t *n_ids);
/* Decode ids into *bytes (caller frees; NUL-terminated for convenience, *n_bytes excludes
 * it). An id outside the vocabulary fails with GENC_EINVAL naming its position and value. */
genc_status genc_tokenizer_decode(const genc_tokenizer *t, genc_ctx *ctx, const int32_t *ids, size_t n,
                                  uint8_t **bytes, size_t *n_bytes);
/* The bytes of one token (for streaming decode), NULL for an id outside the vocabulary. */
const uint8_t *genc_tokenizer_token_bytes(const genc_tokenizer *t, int32_t id, size_t *len);
int genc_tokenizer_vocab_size(const genc_tokenizer *t);
int genc_tokenizer_n_merges(const genc_tokenizer *t);
/* The merge that made token id (>= 263) into a and b; false for other ids. */
bool genc_tokenizer_merge(const genc_tokenizer *t, int32_t id, int32_t *a, int32_t *b);
/* The tag mode (GENC_TAGS_SPECIAL for NULL); set_tags changes how later encodes match. */
void genc_tokenizer_set_tags(genc_tokenizer *t, genc_tags tags);
genc_tags genc_tokenizer_tags(const genc_tokenizer *t);
/* The id of a special token by name ("<|eos|>", "<think>", ...); -1 if unknown. */
int32_t genc_tokenizer_special(const genc_tokenizer *t, const char *name);

/* Serialisation: tensor "tokenizer.merges" (I32, [n_merges, 2]) and metadata "tokenizer",
 * a JSON object {"version": 1, "type": "byte_bpe", "pretokenizer": "genc-v1" | "gpt2" | "qwen2",
 * "vocab_size": V, "n_merges": M, "specials": [the 7 names in id order]}, plus "tags":
 * "text" for a GENC_TAGS_TEXT tokenizer ("special" is accepted too). The same two
 * names carry the tokenizer inside a model checkpoint (add_to / from_st). Loading
 * validates everything: unknown or missing JSON fields, version, pretokenizer, specials,
 * vocab_size == 263 + n_merges, the tensor's dtype and shape, and every merge (ids in
 * range, bytes or earlier merges only, no special ids, no repeated pair). */
genc_status genc_tokenizer_save(const genc_tokenizer *t, genc_ctx *ctx, const char *path);
genc_status genc_tokenizer_load(genc_ctx *ctx, const char *path, genc_tokenizer **out);
genc_status genc_tokenizer_add_to(const genc_tokenizer *t, genc_ctx *ctx, genc_st_writer *w);
genc_status genc_tokenizer_from_st(genc_ctx *ctx, const genc_st *st, genc_tokenizer **out);

#ifdef __cplusplus
}
#endif
#endif
