using System.Buffers.Binary;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Tessera.PostgreSql;

/// <summary>One migration: its version, its file name and its SQL for the default names.</summary>
/// <param name="Version">The version it brings the schema to (1, 2, ...).</param>
/// <param name="Name">The file name, for example <c>0001_compas_base.sql</c>.</param>
/// <param name="Sql">The SQL as shipped (schema <c>public</c>, Compas naming).</param>
public sealed record PostgreSqlMigration(int Version, string Name, string Sql);

/// <summary>
/// Maps the shipped SQL (written for schema <c>"public"</c> and Compas's names, every identifier double-quoted) onto the
/// configured schema, table names and naming style, and applies the migrations.
/// </summary>
internal sealed partial class PostgreSqlSchema
{
    private const string CompasSessions = PostgreSqlSessionStoreDefaults.CompasSessionsTable;
    private const string CompasTokens = PostgreSqlSessionStoreDefaults.CompasTokensTable;

    private readonly bool _snake;

    public PostgreSqlSchema(PostgreSqlSessionStoreOptions options)
    {
        Schema = options.Schema;
        SessionsTable = options.EffectiveSessionsTable;
        TokensTable = options.EffectiveTokensTable;
        _snake = options.NamingStyle == PostgreSqlNamingStyle.SnakeCase;
        MigrationsTable = Rewrite("\"public\".\"sessionStoreTesseraMigrations\"");
        // One lock per set of tables, so two Tessera deployments in one database do not wait for each other.
        LockKey = BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes($"tessera-migrations\0{Schema}\0{SessionsTable}\0{TokensTable}")));
    }

    public string Schema { get; }

    public string SessionsTable { get; }

    public string TokensTable { get; }

    public string MigrationsTable { get; }

    public long LockKey { get; }

    /// <summary>The migrations, in order, as shipped.</summary>
    public static IReadOnlyList<PostgreSqlMigration> Migrations { get; } = LoadMigrations();

    public static int LatestVersion => Migrations[^1].Version;

    /// <summary>Rewrites every double-quoted identifier of <paramref name="sql"/> (string literals are left alone).</summary>
    public string Rewrite(string sql) => QuotedIdentifier().Replace(sql, m => Quote(Map(m.Groups[1].Value)));

    public static string Quote(string identifier) => "\"" + identifier + "\"";

    private string Map(string name)
    {
        if (string.Equals(name, "public", StringComparison.Ordinal))
        {
            return Schema;
        }
        // Longest first: Compas's tokens table's name starts with its sessions table's name.
        if (name.StartsWith(CompasTokens, StringComparison.Ordinal))
        {
            return TokensTable + Style(name[CompasTokens.Length..], suffix: true);
        }
        if (name.StartsWith(CompasSessions, StringComparison.Ordinal))
        {
            return SessionsTable + Style(name[CompasSessions.Length..], suffix: true);
        }
        return Style(name, suffix: false);
    }

    // Compas style keeps the names; snake_case drops the "tessera" marker (nothing else shares these tables) and turns
    // humps into underscores: "tesseraCredentialHash" -> "credential_hash", "TesseraSubjectIdx" -> "_subject_idx".
    private string Style(string name, bool suffix)
    {
        if (!_snake || name.Length == 0)
        {
            return name;
        }
        if (name.Length > 7 && name.StartsWith("tessera", StringComparison.OrdinalIgnoreCase) && char.IsUpper(name[7]))
        {
            name = name[7..];
        }
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0 || suffix)
                {
                    builder.Append('_');
                }
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    /// <summary>Applies every migration the database lacks, under an advisory lock, in one transaction.</summary>
    public async Task<(int From, int To)> MigrateAsync(NpgsqlDataSource dataSource, TimeSpan timeout, ILogger logger, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var transactionScope = transaction.ConfigureAwait(false);
        var seconds = (int)Math.Ceiling(timeout.TotalSeconds);
        async Task<object?> Run(string sql, params object[] parameters)
        {
            var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = seconds };
            await using var commandScope = command.ConfigureAwait(false);
            foreach (var parameter in parameters)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = parameter });
            }
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        // Instances starting together queue here; the lock goes with the transaction, whatever happens.
        await Run("SELECT pg_advisory_xact_lock($1)", LockKey).ConfigureAwait(false);
        if (await Run("SELECT 1 FROM pg_namespace WHERE nspname = $1", Schema).ConfigureAwait(false) is null)
        {
            await Run("CREATE SCHEMA " + Quote(Schema)).ConfigureAwait(false);
        }
        await Run(Rewrite("""
            CREATE TABLE IF NOT EXISTS "public"."sessionStoreTesseraMigrations"
            (
              "version"   integer     PRIMARY KEY NOT NULL,
              "name"      text        NOT NULL,
              "appliedAt" timestamptz NOT NULL DEFAULT now()
            )
            """)).ConfigureAwait(false);
        var from = Convert.ToInt32(await Run("SELECT coalesce(max(" + Rewrite("\"version\"") + "), 0) FROM " + MigrationsTable).ConfigureAwait(false), CultureInfo.InvariantCulture);
        if (from > LatestVersion)
        {
            throw new InvalidOperationException($"The session tables are at schema version {from}, newer than this Tessera.PostgreSql ({LatestVersion}); upgrade the package instead of running an older one against them.");
        }
        foreach (var migration in Migrations.Where(m => m.Version > from))
        {
            await Run(Rewrite(migration.Sql)).ConfigureAwait(false);
            await Run("INSERT INTO " + MigrationsTable + " (" + Rewrite("\"version\", \"name\"") + ") VALUES ($1, $2)", migration.Version, migration.Name).ConfigureAwait(false);
            Log.MigrationApplied(logger, migration.Name, Schema, SessionsTable);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (from, LatestVersion);
    }

    private static List<PostgreSqlMigration> LoadMigrations()
    {
        const string prefix = "Tessera.PostgreSql.Migrations.";
        var assembly = typeof(PostgreSqlSchema).Assembly;
        var list = new List<PostgreSqlMigration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var name = resource[prefix.Length..];
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            list.Add(new PostgreSqlMigration(int.Parse(name.AsSpan(0, 4), CultureInfo.InvariantCulture), name, reader.ReadToEnd()));
        }
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Version != i + 1)
            {
                throw new InvalidOperationException($"Migration {list[i].Name} is out of sequence: expected version {i + 1}.");
            }
        }
        return list;
    }

    [GeneratedRegex("\"([^\"]+)\"", RegexOptions.CultureInvariant)]
    private static partial Regex QuotedIdentifier();
}
