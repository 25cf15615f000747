import CLibPQ
import Foundation

/// Owns a libpq result and frees it when the last row referring to it is gone.
final class ResultStorage: @unchecked Sendable {
    // Immutable after init; libpq results are safe to read from any thread.
    let result: OpaquePointer
    let columnNames: [String]
    let columnIndex: [String: Int]

    init(_ result: OpaquePointer) {
        self.result = result
        let count = Int(PQnfields(result))
        var names: [String] = []
        names.reserveCapacity(count)
        var index: [String: Int] = [:]
        for i in 0..<count {
            let name = String(cString: PQfname(result, Int32(i)))
            names.append(name)
            if index[name] == nil { index[name] = i }
        }
        self.columnNames = names
        self.columnIndex = index
    }

    deinit { PQclear(result) }
}

/// The rows of a completed statement, in text format, plus the number of
/// rows it affected. Rows can be iterated and indexed.
public struct QueryResult: Sendable, RandomAccessCollection {
    let storage: ResultStorage
    /// The number of rows returned.
    public let count: Int
    /// Rows inserted, updated or deleted by the statement (0 for a plain SELECT of no rows).
    public let affectedRows: Int

    init(storage: ResultStorage) {
        self.storage = storage
        self.count = Int(PQntuples(storage.result))
        self.affectedRows = Int(String(cString: PQcmdTuples(storage.result))) ?? 0
    }

    /// The result's column names in order.
    public var columns: [String] { storage.columnNames }
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> Row { Row(storage: storage, index: Int32(position)) }

    /// The first row, or nil when there is none.
    public var firstRow: Row? { isEmpty ? nil : self[0] }
}

/// One row of a `QueryResult`. Values are decoded on demand by column name.
public struct Row: Sendable {
    let storage: ResultStorage
    let index: Int32

    /// The column names of this row.
    public var columns: [String] { storage.columnNames }

    func columnNumber(_ column: String) throws -> Int32 {
        guard let i = storage.columnIndex[column] else {
            throw PostgresError(
                kind: .decoding,
                message: "no column named '\(column)' in the result (columns: \(storage.columnNames.joined(separator: ", ")))")
        }
        return Int32(i)
    }

    /// The raw text value of a column, or nil for SQL NULL.
    public func text(_ column: String) throws -> String? {
        let c = try columnNumber(column)
        if PQgetisnull(storage.result, index, c) == 1 { return nil }
        return String(cString: PQgetvalue(storage.result, index, c))
    }

    /// True when the column is SQL NULL.
    public func isNull(_ column: String) throws -> Bool {
        PQgetisnull(storage.result, index, try columnNumber(column)) == 1
    }

    /// Decodes a column as `T`. Asking for a non-optional type where the value is NULL,
    /// or a type the text does not fit, throws an error naming the column.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try T.decode(postgresText: text(column), column: column)
    }

    /// Decodes a JSON column (json/jsonb) into a `Decodable` value.
    public func decodeJSON<T: Decodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let text = try text(column) else {
            throw PostgresError(kind: .decoding, message: "column '\(column)' is NULL but \(T.self) was expected")
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(T.self, from: Data(text.utf8))
        } catch {
            throw PostgresError(kind: .decoding, message: "column '\(column)' does not decode as \(T.self): \(error)")
        }
    }

    /// All columns as raw text (nil for NULL), for generic output such as `--json` listings.
    public func dictionary() -> [String: String?] {
        var out: [String: String?] = [:]
        for (i, name) in storage.columnNames.enumerated() {
            if PQgetisnull(storage.result, index, Int32(i)) == 1 {
                out[name] = .some(nil)
            } else {
                out[name] = String(cString: PQgetvalue(storage.result, index, Int32(i)))
            }
        }
        return out
    }
}
