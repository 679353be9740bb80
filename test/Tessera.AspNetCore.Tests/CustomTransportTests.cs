using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// A transport is a strategy: one written outside Tessera (here, a session ticket in a request and response header)
/// replaces the cookie transport by registration alone, and learns everything a commit decided from its arguments:
/// the credential to issue or clear, the deadlines the commit wrote (a touch included) and whether the request signed
/// out. It reads nothing from the request's features.
/// </summary>
public sealed class CustomTransportTests : HttpConformanceTestBase<InMemoryStoreKit>
{
    private const string Ticket = "X-Ticket";
    private const string IdleDeadline = "X-Ticket-Idle";
    private const string Cleared = "X-Ticket-Cleared";

    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        services.RemoveAll<ISessionTransport>();
        services.AddSingleton<ISessionTransport, HeaderTicketTransport>();
    }

    [Fact]
    public async Task ATransportOfItsOwnGetsTheCredentialTheDeadlinesAndTheSignOutAsArguments()
    {
        var server = await StartTestServerAsync(Store, null, PublicIndicatorCookieTests.MapRevokeDuringRequest);
        using var client = new HttpClient { BaseAddress = server.Address };

        var created = Clock.GetUtcNow();
        using var first = await client.PostAsync("/set/a/1", null);
        var ticket = Assert.Single(first.Headers.GetValues(Ticket));
        Assert.Equal(Seconds(created + TesseraDefaults.AnonymousIdleTimeout), Assert.Single(first.Headers.GetValues(IdleDeadline)));
        Assert.DoesNotContain("set-cookie", first.Headers.Select(h => h.Key.ToLowerInvariant()));

        Clock.Advance(TimeSpan.FromMinutes(5));
        using var touch = await SendAsync(client, HttpMethod.Get, "/whoami", ticket);
        Assert.False(touch.Headers.Contains(Ticket)); // the credential stays...
        Assert.Equal(Seconds(Clock.GetUtcNow() + TesseraDefaults.AnonymousIdleTimeout), Assert.Single(touch.Headers.GetValues(IdleDeadline))); // ...the deadline moved

        using var vanished = await SendAsync(client, HttpMethod.Post, "/revoke-during-request", ticket); // revoked elsewhere meanwhile
        Assert.Equal("vanished", Assert.Single(vanished.Headers.GetValues(Cleared)));

        using var second = await client.PostAsync("/signin/alice", null);
        var alice = Assert.Single(second.Headers.GetValues(Ticket));
        using var signOut = await SendAsync(client, HttpMethod.Post, "/destroy", alice);
        Assert.Equal("signed-out", Assert.Single(signOut.Headers.GetValues(Cleared)));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string ticket)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add(Ticket, ticket);
        var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return response;
    }

    private static string Seconds(DateTimeOffset time) => time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    private sealed class HeaderTicketTransport : ISessionTransport
    {
        public string? ReadCredential(HttpContext context) =>
            context.Request.Headers.TryGetValue(Ticket, out var value) ? value.ToString() : null;

        public void WriteCredential(HttpContext context, SessionCommitResult result) =>
            WriteCommit(context, SessionCommitOutcome.From(result));

        public void WriteCommit(HttpContext context, SessionCommitOutcome commit)
        {
            var headers = context.Response.Headers;
            if (commit.Result.Change == CredentialChange.Issue)
            {
                headers[Ticket] = commit.Result.Credential;
            }
            else if (commit.Result.Change == CredentialChange.Clear)
            {
                headers[Cleared] = commit.SignedOut ? "signed-out" : "vanished";
            }
            if (commit.IdleExpiresAt is { } idle)
            {
                headers[IdleDeadline] = Seconds(idle);
            }
        }
    }
}
