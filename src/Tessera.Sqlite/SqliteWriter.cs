using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Tessera.Sqlite;

/// <summary>
/// The store's one write connection, kept open between transactions with every statement it ran compiled once: a
/// write binds its parameters to a prepared statement instead of parsing its SQL again, and a transaction sets no
/// pragmas. Transactions and savepoints are prepared statements too (<c>BEGIN IMMEDIATE</c>, <c>SAVEPOINT</c>, ...),
/// so the commands run without a <see cref="SqliteTransaction"/>. Used by one transaction at a time (group commit runs
/// one at a time); a writer whose transaction was lost is closed, and the next transaction opens a new one.
/// <paramref name="compiled"/> is told of each statement compiled (tests count them).
/// </summary>
internal sealed class SqliteWriter(SqliteConnection connection, Action compiled) : IDisposable
{
    private const string Savepoint = "tessera_write";

    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    /// <summary>Whether a transaction is open on the connection (SQLite ends one itself after some errors).</summary>
    public bool InTransaction => raw.sqlite3_get_autocommit(connection.Handle) == 0;

    /// <summary>
    /// The prepared statement for <paramref name="sql"/> (a constant of the store), compiled on first use, with no
    /// parameters: the caller adds its own. The command belongs to this writer; the caller does not dispose it.
    /// </summary>
    public SqliteCommand Command(string sql)
    {
        if (_commands.TryGetValue(sql, out var command))
        {
            command.Parameters.Clear();
            return command;
        }
        command = connection.CreateCommand();
#pragma warning disable CA2100 // every text is a constant of SqliteStatements; values always travel as parameters
        command.CommandText = sql;
#pragma warning restore CA2100
        command.Prepare();
        _commands.Add(sql, command);
        compiled();
        return command;
    }

    /// <summary>Takes the write lock: <c>BEGIN IMMEDIATE</c> (waits up to the busy timeout for other processes' writers).</summary>
    public void Begin() => Run("BEGIN IMMEDIATE");

    public void Commit() => Run("COMMIT");

    /// <summary>Undoes the open transaction, if SQLite has not already.</summary>
    public void Rollback()
    {
        if (InTransaction)
        {
            Run("ROLLBACK");
        }
    }

    /// <summary>Opens the savepoint that lets one write of a group be undone alone.</summary>
    public void Save() => Run("SAVEPOINT " + Savepoint);

    public void Release() => Run("RELEASE " + Savepoint);

    /// <summary>Undoes the writes since <see cref="Save"/> and closes the savepoint; the transaction stays open.</summary>
    public void RollbackToSavepoint()
    {
        Run("ROLLBACK TO " + Savepoint);
        Run("RELEASE " + Savepoint);
    }

    private void Run(string sql) => Command(sql).ExecuteNonQuery();

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }
        connection.Dispose();
    }
}
