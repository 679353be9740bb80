using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Tessera.Demo.Tests;

/// <summary>/admin/stats is a development aid for the machine the demo runs on, and nothing more.</summary>
public sealed class AdminStatsAccessTests
{
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.5.6.7", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.0.0.1", false)]
    [InlineData("192.0.2.2", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("fd00::2", false)]
    public void OnlyLoopbackAddressesCountAsLocal(string address, bool loopback)
    {
        Assert.Equal(loopback, DemoApp.IsLoopback(IPAddress.Parse(address)));
    }

    [Fact]
    public void AnUnknownRemoteAddressIsNotLocal()
    {
        Assert.False(DemoApp.IsLoopback(null));
    }

    [Fact]
    public async Task AdminStatsIsNotFoundFromAnotherAddressEvenInDevelopment()
    {
        var address = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        if (address is null)
        {
            return; // no network besides loopback here: OnlyLoopbackAddressesCountAsLocal covers the rule
        }

        using var data = new TempDirectory();
        await using var app = DemoApp.Build(DemoServer.Arguments("memory", "Development", data.Path, "--urls", $"http://{address}:0"));
        await app.StartAsync();
        var bound = new Uri(app.Urls.Single());
        using var client = new DemoClient(bound);
        using var response = await client.GetAsync("/admin/stats");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var health = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}
