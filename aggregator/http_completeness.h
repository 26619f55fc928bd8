/*
 * http_completeness.h - the HTTP face of completeness (CONTRACT section 9), registered by
 * http_api.c:
 *   GET /api/completeness?year=Y[&round=R]  the document of `report --completeness
 *                                           --format json`; 400 for a bad parameter, 404
 *                                           for a year without rounds or an unknown round
 *   GET /completeness?year=Y                the units x rounds page (dashboard_completeness.h)
 * `ctx` is the struct agg_http; both take turns on its database connection.
 */
#ifndef AGG_HTTP_COMPLETENESS_H
#define AGG_HTTP_COMPLETENESS_H

#include "http.h"

void agg_http_completeness_api(void *ctx, const struct ct_http_request *req,
                               struct ct_http_response *resp);
void agg_http_completeness_page(void *ctx, const struct ct_http_request *req,
                                struct ct_http_response *resp);

#endif
