using System.Net;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The whole HTTP conformance suite, for a store that keeps its sessions on the server (every store but the cookie
/// store): on top of <see cref="RevocableSessionHttpConformanceTests{TKit}"/>, concurrent requests writing different keys of
/// one session keep every key, and a subject's sessions can be listed and revoked. Inherit it, implement
/// <see cref="HttpConformanceTestBase{TKit}.CreateStore"/>, and the cookie-session behaviour users rely on is tested against
/// your store.
/// </summary>
public abstract class ServerSideSessionHttpConformanceTests<TKit> : RevocableSessionHttpConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>
    /// Whether the store implements <see cref="ISubjectSessionIndex"/>, which per-user session management needs. Default
    /// <see langword="true"/>. A store without it overrides this with <see langword="false"/>: the per-user tests then
    /// check only that the declaration is true (the store really lacks the capability), so a gap is never silent.
    /// </summary>
    protected bool SupportsSubjectIndex => Kit.SupportsSubjectIndex;

    /// <summary>100 concurrent requests that each set a different key on one session leave all 100 keys.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task HundredConcurrentRequestsSettingDifferentKeysKeepEveryKey()
    {
        var server = await StartServerAsync();
        using var first = server.CreateClient();
        await first.PostAsync("/set/seed/0");
        var cookie = first.Cookie;

        var tasks = Enumerable.Range(0, 100).Select(async i =>
        {
            using var client = server.CreateClient();
            client.Cookie = cookie;
            await client.PostAsync($"/set/k{i}/{i}");
        });
        await Task.WhenAll(tasks);

        var keys = (await first.GetStringAsync("/keys")).Split(',');
        Assert.Equal(101, keys.Length);
        for (var i = 0; i < 100; i++)
        {
            Assert.Contains($"k{i}", keys);
        }
    }

    /// <summary>A subject signed in on two devices sees both listed, the asking one flagged as current.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ListingASubjectsSessionsShowsBothDevicesAndFlagsTheCurrentOne()
    {
        if (LacksTheDeclaredSubjectIndex())
        {
            return;
        }
        var server = await StartServerAsync();
        using var laptop = server.CreateClient();
        using var phone = server.CreateClient();
        using var other = server.CreateClient();
        await laptop.PostAsync("/signin/alice");
        Clock.Advance(TimeSpan.FromSeconds(1));
        await phone.PostAsync("/signin/alice");
        await other.PostAsync("/signin/bob");
        var laptopId = await laptop.GetStringAsync("/id");
        var phoneId = await phone.GetStringAsync("/id");

        var fromLaptop = Lines(await laptop.GetStringAsync("/my-sessions"));
        var fromPhone = Lines(await phone.GetStringAsync("/my-sessions"));

        Assert.Equal([$"{laptopId}|*", $"{phoneId}|-"], fromLaptop.Select(l => string.Join('|', l.Split('|')[..2])));
        Assert.Equal([$"{laptopId}|-", $"{phoneId}|*"], fromPhone.Select(l => string.Join('|', l.Split('|')[..2])));
        Assert.All(fromLaptop, l => Assert.EndsWith("|127.0.0.1", l, StringComparison.Ordinal));
        using var anonymous = server.CreateClient();
        using var response = await anonymous.SendAsync(HttpMethod.Get, "/my-sessions");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    /// <summary>Revoking one of the subject's own sessions ends it: its cookie is anonymous afterwards.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RevokingOneOfTheSubjectsOwnSessionsMakesItsCookieAnonymous()
    {
        using var devices = await SignInTwoClientsAsync("alice", "alice");
        if (devices is null)
        {
            return;
        }
        var (laptop, phone) = (devices.First, devices.Second);

        Assert.Equal("Revoked", await laptop.PostAsync($"/my-sessions/{devices.SecondId}/revoke"));

        Assert.Equal("(anonymous)", await phone.GetStringAsync("/whoami"));
        Assert.Equal("alice", await laptop.GetStringAsync("/whoami"));
        Assert.Single(Lines(await laptop.GetStringAsync("/my-sessions")));
        Assert.Equal("NotFound", await laptop.PostAsync($"/my-sessions/{devices.SecondId}/revoke"));
    }

    /// <summary>Revoking another subject's session is refused, and that session keeps working.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RevokingAnotherSubjectsSessionIsRefusedAndItKeepsWorking()
    {
        using var devices = await SignInTwoClientsAsync("alice", "bob");
        if (devices is null)
        {
            return;
        }
        var (alice, bob) = (devices.First, devices.Second);

        Assert.Equal("NotOwned", await alice.PostAsync($"/my-sessions/{devices.SecondId}/revoke"));
        Assert.Equal("NotFound", await alice.PostAsync($"/my-sessions/{Guid.NewGuid():D}/revoke"));

        Assert.Equal("bob", await bob.GetStringAsync("/whoami"));
        Assert.Equal("alice", await alice.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// Signing out other devices keeps the current session and ends every other session of the subject, token sessions
    /// included, and nobody else's.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RevokingOthersKeepsTheCurrentSessionAndEndsTheRestIncludingTokenSessions()
    {
        if (LacksTheDeclaredSubjectIndex())
        {
            return;
        }
        var tokens = Store.Inner is Tokens.ISessionTokenStore;
        var server = await StartServerAsync(bearerTokens: tokens);
        using var laptop = server.CreateClient();
        using var phone = server.CreateClient();
        using var bob = server.CreateClient();
        await laptop.PostAsync("/signin/alice");
        await phone.PostAsync("/signin/alice");
        await bob.PostAsync("/signin/bob");
        using var app = server.CreateClient();
        if (tokens)
        {
            app.AccessToken = (await server.Manager.Tokens.CreateAsync("alice")).AccessToken;
            Assert.Equal("alice", await app.GetStringAsync("/whoami"));
        }
        Assert.Equal(tokens ? 3 : 2, Lines(await laptop.GetStringAsync("/my-sessions")).Length);

        Assert.Equal(tokens ? "2" : "1", await laptop.PostAsync("/my-sessions/revoke-others"));

        Assert.Equal("alice", await laptop.GetStringAsync("/whoami"));
        Assert.Equal("(anonymous)", await phone.GetStringAsync("/whoami"));
        Assert.Equal("bob", await bob.GetStringAsync("/whoami"));
        if (tokens)
        {
            using var response = await app.SendAsync(HttpMethod.Get, "/whoami");
            Assert.Equal("(anonymous)", await response.Content.ReadAsStringAsync());
        }
        var left = Lines(await laptop.GetStringAsync("/my-sessions"));
        Assert.StartsWith(await laptop.GetStringAsync("/id") + "|*", Assert.Single(left), StringComparison.Ordinal);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Two clients of a new server, signed in as <paramref name="first"/> and <paramref name="second"/>, with the second
    /// one's session id; <see langword="null"/> when the kit declares that the store cannot list by subject (after
    /// checking that it truly cannot).
    /// </summary>
    private async Task<TwoClients?> SignInTwoClientsAsync(string first, string second)
    {
        if (LacksTheDeclaredSubjectIndex())
        {
            return null;
        }
        var server = await StartServerAsync();
        var clients = new TwoClients(server.CreateClient(), server.CreateClient());
        await clients.First.PostAsync($"/signin/{first}");
        await clients.Second.PostAsync($"/signin/{second}");
        clients.SecondId = await clients.Second.GetStringAsync("/id");
        return clients;
    }

    /// <summary>Two clients of one server, disposed together.</summary>
    private sealed class TwoClients(CookieClient first, CookieClient second) : IDisposable
    {
        public CookieClient First { get; } = first;

        public CookieClient Second { get; } = second;

        public string SecondId { get; set; } = "";

        public void Dispose()
        {
            First.Dispose();
            Second.Dispose();
        }
    }

    /// <summary>
    /// True when the kit declares that the store cannot list by subject (after checking that it truly cannot), so the
    /// test has nothing to run.
    /// </summary>
    private bool LacksTheDeclaredSubjectIndex()
    {
        if (SupportsSubjectIndex)
        {
            return false;
        }
        AssertTheDeclaredGap();
        return true;
    }

    private void AssertTheDeclaredGap() =>
        Assert.False(Store.Inner is ISubjectSessionIndex, $"{Store.Inner.GetType().Name} implements ISubjectSessionIndex but the test class overrides SupportsSubjectIndex with false: remove the override.");
}
