using Microsoft.Extensions.Time.Testing;
using System.Diagnostics;
using Npgsql;
using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// Listing a user's sessions costs in proportion to that user's sessions, not to the table's: PostgreSQL plans the
/// store's own list-by-subject statement (captured from Npgsql's tracing as it runs) on the subject index, never as a
/// sequential scan, on a table with fresh statistics and many other subjects' sessions.
/// </summary>
public sealed class SubjectListingCostTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const int OtherSessions = 2_000;

    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public async Task ListingASubjectsSessionsUsesTheSubjectIndexInsteadOfASequentialScan()
    {
        var schema = database.NewSchema();
        var store = new PostgreSqlSessionStore(database.DataSource, new PostgreSqlSessionStoreOptions { Schema = schema }, _clock);
        await store.EnsureSchemaAsync();
        var manager = new SessionManager(store, Microsoft.Extensions.Options.Options.Create(new TesseraOptions { Keys = { SigningKeyRing.GenerateBase64Key() } }), _clock);
        await Parallel.ForAsync(0, OtherSessions, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) => await SignInAsync(manager, $"user{i % 200}"));
        for (var i = 0; i < 3; i++)
        {
            await SignInAsync(manager, "alice");
        }
        await database.ExecuteAsync($"""ANALYZE "{schema}"."sessionStore" """);

        var (sessions, sql) = await CaptureStatementAsync(async () => await store.ListBySubjectAsync("alice"));
        var plan = await ExplainAsync(sql, "alice", _clock.GetUtcNow());

        Assert.Equal(3, sessions.Count);
        Assert.Contains("sessionStoreTesseraSubjectIdx", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
    }

    // Runs the action and returns the one statement it sent, as Npgsql's tracing reports it (db.query.text); only
    // statements under this call's own root activity count, so other tests running meanwhile cannot interfere.
    private static async Task<(T Result, string Sql)> CaptureStatementAsync<T>(Func<Task<T>> action)
    {
        using var root = new ActivitySource("Tessera.PostgreSql.Tests.Capture");
        var statements = new List<string>();
        string? rootId = null;
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Npgsql" or "Tessera.PostgreSql.Tests.Capture",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.Source.Name == "Npgsql" && rootId is not null && a.ParentId == rootId)
                {
                    lock (statements)
                    {
                        statements.Add(a.GetTagItem("db.query.text") as string ?? "(no db.query.text)");
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        T result;
        using (var activity = root.StartActivity("capture"))
        {
            rootId = activity!.Id;
            result = await action();
        }
        lock (statements)
        {
            return (result, Assert.Single(statements));
        }
    }

    private async Task<string> ExplainAsync(string sql, string subject, DateTimeOffset now)
    {
        await using var command = database.DataSource.CreateCommand("EXPLAIN " + sql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = subject });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }
        return string.Join('\n', lines);
    }

    // A session as a sign-in request leaves it, with a cart.
    private static async Task SignInAsync(SessionManager manager, string subject)
    {
        var session = manager.Open(null);
        session.SignIn(subject);
        session.Set("cart", new[] { 1, 2, 3 });
        await session.CommitAsync();
    }
}
