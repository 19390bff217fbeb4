/*
 * kv.h — (internal) raw access to the store's tables, for the layers of
 * the library above the store.  Nothing outside the library writes a
 * table: entries enter by the append and ingest paths of core/.
 */
#ifndef KETEN_STORE_KV_H
#define KETEN_STORE_KV_H

#include "keten/store.h"

#endif
