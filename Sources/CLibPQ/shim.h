#ifndef CERTBUS_CLIBPQ_SHIM_H
#define CERTBUS_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
