// Package db is lxmgr's inventory: instances, profiles, images and their
// aliases, storage pools and server config, in one SQLite file.
//
// All SQL of lxmgr lives in this package. Every read and write goes through
// DB.Transaction, whose transactions start with BEGIN IMMEDIATE so that
// concurrent writers queue on SQLite's busy timeout instead of failing with
// "database is locked" half-way through. Maps and lists (config, devices,
// profiles, properties) are stored as JSON text columns: simple, and listing
// a thousand instances stays a single query.
package db
