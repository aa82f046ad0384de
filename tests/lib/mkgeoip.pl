#!/usr/bin/perl
# Writes a MaxMind DB (GeoIP2-Country layout: country.iso_code) for the
# tests and the demo, from "CIDR=CC" arguments; "CIDR=" makes a network
# that is in the database without a country.  Nothing here is real data:
# the tests map loopback ranges (127.1.0.0/16, ...) to countries.
#
#   perl tests/lib/mkgeoip.pl OUT.mmdb 127.1.0.0/16=DE 127.2.0.0/16=US ...
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUT.mmdb CIDR=CC...\n";

my %types = (country => 'map', iso_code => 'utf8_string',
             note => 'utf8_string');

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version            => 6,
    record_size           => 24,
    database_type         => 'Zoll-Test-Country',
    languages             => ['en'],
    description           => { en => 'Zoll test database (synthetic)' },
    map_key_type_callback => sub { $types{ $_[0] } },
    # loopback is reserved; the tests need it
    remove_reserved_networks => 0,
);

for my $arg (@ARGV) {
    my ($net, $cc) = split /=/, $arg, 2;
    die "bad argument \"$arg\": want CIDR=CC\n" unless defined $cc;
    $tree->insert_network($net, length $cc
        ? { country => { iso_code => $cc } }
        : { note => 'no country' });
}

open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$out.tmp: $!\n";
rename "$out.tmp", $out or die "$out: $!\n";
