#pragma once

// The description of the admin REST API that GET /api/v1/openapi.json is generated from (SPEC §6).
// Each AdminRoute carries an api::Operation (summary, query parameters, request and response
// schema names, success status); the schemas (field names, types, required, nullable) are listed
// once in adminSchemas() (AdminSchemas.cpp). addAdminRoutes() registers the same route table with
// the Router and hands it to buildOpenApi(), so the document cannot list a route the server does
// not serve, or miss one. tests/admin/TestOpenApi checks the document's structure, that every
// $ref resolves, that it lists exactly the router's /api/v1 routes, and that real responses carry
// exactly the fields their schema names.
//
// Plain literal data: const char * are string literals; nothing here owns anything.

#include <QJsonObject>

#include <vector>

namespace llmpool::gateway::api {

enum class Type {
    String,
    Integer,
    Boolean,
    Number,
    Money,      // decimal string, 9 places
    Time,       // RFC 3339 UTC string
    StringList, // array of strings
    Object,     // free-form JSON object
    Ref,        // the schema named by Field::ref
    RefList,    // array of the schema named by Field::ref
};

// Field / parameter flags.
constexpr unsigned Required = 1; // always present (response) / must be sent (request)
constexpr unsigned Nullable = 2; // may be null

struct Field
{
    const char *name;
    Type type;
    const char *description = "";
    unsigned flags = 0;
    const char *ref = nullptr;             // Type::Ref / RefList
    std::vector<const char *> values = {}; // allowed values of a String, if a fixed set
};

struct Schema
{
    const char *name;
    const char *description;
    std::vector<Field> fields;
};

// How the success response wraps the schema.
enum class Shape {
    Object,     // the schema itself
    Page,       // {"data": [schema], "pagination": Pagination}; adds page / page_size parameters
    CursorPage, // {"data": [schema], "next_cursor", "has_more"}
};

struct Operation
{
    const char *summary = nullptr;
    const char *tag = nullptr;
    std::vector<Field> query = {};       // query parameters (path parameters come from the pattern)
    const char *requestSchema = nullptr; // JSON body, if any
    const char *responseSchema = nullptr;
    Shape shape = Shape::Object;
    int status = 200; // success status
    const char *description = nullptr;
    bool optionalBody = false; // the request body may be left out
    // An idempotent replay's success status, with the same body (200 for a known unique_request_id).
    int replayStatus = 0;
};

// Every schema the operations name.
const std::vector<Schema> &adminSchemas();

} // namespace llmpool::gateway::api
